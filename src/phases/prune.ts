import * as core from '@actions/core'
import type { DeployContext } from '../model/context.js'
import { relativeToTarget, type RemoteLayout } from '../remote/layout.js'
import { errorText } from '../model/phase.js'
import type { Settings } from '../inputs/settings.js'
import PRUNE_VENVS_SCRIPT from '../host/prune-venvs.sh'
import { joinCode, sh, withInputs, type ShellCode } from '../remote/shell.js'
import { IN_PLACE_TREE, manifestPath } from './upload.js'
import { venvsDir } from './venv.js'
import { info } from '../report/host-text.js'
import { COMMAND_SECONDS } from '../model/budgets.js'
import { answerOf, answersOf } from '../remote/protocol.js'
import { strategyOf } from '../model/strategy.js'

/** Releases to delete: all but the `keep` newest, never the live one or the one just deployed. */
export function releasesToPrune(releases: string[], keep: number, protect: string[]): string[] {
  const newestFirst = [...new Set(releases)].sort().reverse()
  return newestFirst.slice(keep).filter(name => !protect.includes(name))
}

/** Deletes the given releases and their manifests (the upload clears leftover staging trees). */
export function pruneScript(layout: RemoteLayout, doomed: string[]): ShellCode {
  const here = relativeToTarget(layout)
  return joinCode([
    sh`cd -- ${layout.target} || exit 1`,
    ...doomed.map(
      name => sh`rm -rf -- ${`${here.releasesDir}/${name}`} ${manifestPath(here, name)}`
    )
  ])
}

/**
 * Deletes a failed deploy's own release (and its manifest) unless `current` names it (a rollback
 * that did not hold), so `keep-releases` holds on every path. Prints `discarded` when it did.
 */
export function discardReleaseScript(
  layout: RemoteLayout,
  release: string,
  madeBy?: string
): ShellCode {
  const here = relativeToTarget(layout)
  const dir = `${here.releasesDir}/${release}`
  // The post step (madeBy: the run's lock token) removes a release only if the journal says that
  // run uploaded it: what it read from its saved state does not decide alone.
  const ours = madeBy
    ? sh` && grep -qF -- ${` ${madeBy} uploaded ${release}`} 2>/dev/null < ${here.journal}`
    : sh``
  return sh`cd -- ${layout.target} || exit 1
if [ "$(readlink current 2>/dev/null)" != ${`releases/${release}`} ] && [ -d ${dir} ]${ours}; then
  rm -rf -- ${dir} ${manifestPath(here, release)} && echo discarded
fi`
}

/**
 * A failed or cut-off deploy's end: its release goes once it is not live (see
 * discardReleaseScript); whether it went.
 */
export async function discardRelease(ctx: DeployContext, madeBy?: string): Promise<boolean> {
  const { stdout } = await ctx.session.remote.run(
    discardReleaseScript(ctx.layout, ctx.release, madeBy),
    { phase: 'prune', timeoutSeconds: COMMAND_SECONDS.wholeTree }
  )
  return answerOf(stdout, 'discarded') !== undefined
}

/**
 * Deletes the venvs no remaining tree links to (a kept release, the live target in place, its
 * pristine copy), so the live one is always kept. Prints `removed-venv KEY` for each.
 */
export function pruneVenvsScript(layout: RemoteLayout): ShellCode {
  const here = relativeToTarget(layout)
  return withInputs(PRUNE_VENVS_SCRIPT, {
    pv_target: layout.target,
    pv_venvs: venvsDir(here),
    pv_venvs_abs: venvsDir(layout),
    pv_releases: here.releasesDir,
    pv_base_link: `${here.deployDir}/${IN_PLACE_TREE}/.venv`
  })
}

/** Whether a deploy has anything to prune: old releases, or venvs no kept tree uses. */
export function prunes(settings: Settings): boolean {
  return strategyOf(settings).keepsReleases || settings.pythonRequirements.length > 0
}

/** The warning for a prune that failed after verify passed: the deploy stands. */
export function warnPruneFailed(label: string, error: unknown): void {
  core.warning(
    `Pruning old releases on ${label} failed: ${errorText(error)}. The new release is verified and serving; the next deploy prunes again.`
  )
}

/** prune: keep `keep-releases` releases, and the venvs they use. */
export async function prune(ctx: DeployContext): Promise<void> {
  const { settings, session, layout } = ctx
  const doomed = strategyOf(settings).keepsReleases
    ? releasesToPrune([...ctx.existingReleases, ctx.release], settings.keepReleases, [ctx.release])
    : []
  const venvs = settings.pythonRequirements.length > 0
  if (doomed.length === 0 && !venvs) {
    info('Nothing to prune')
    return
  }
  const { stdout } = await session.remote.run(
    joinCode([pruneScript(layout, doomed), ...(venvs ? [pruneVenvsScript(layout)] : [])]),
    { phase: 'prune', timeoutSeconds: COMMAND_SECONDS.wholeTree }
  )
  info(doomed.length > 0 ? `Removed old release(s): ${doomed.join(', ')}` : 'No release to prune')
  const removed = answersOf(stdout, 'removed-venv')
  if (venvs)
    info(
      removed.length > 0
        ? `Removed venv(s) no kept release uses: ${removed.join(', ')}`
        : 'Every venv is still used by a kept release'
    )
}

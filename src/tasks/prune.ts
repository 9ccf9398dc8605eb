import * as core from '@actions/core'
import type { DeployContext } from '../model/context.js'
import { errorText } from '../model/phase.js'
import type { Settings } from '../inputs/settings.js'
import { joinCode } from '../remote/shell.js'
import { info } from '../report/host-text.js'
import { COMMAND_SECONDS } from '../model/budgets.js'
import { answerOf, answersOf } from '../remote/protocol.js'
import { strategyOf } from '../model/strategy.js'
import { pruneScript, discardReleaseScript, pruneVenvsScript } from '../commands/prune.js'

/** Releases to delete: all but the `keep` newest, never the live one or the one just deployed. */
export function releasesToPrune(releases: string[], keep: number, protect: string[]): string[] {
  const newestFirst = [...new Set(releases)].sort().reverse()
  return newestFirst.slice(keep).filter(name => !protect.includes(name))
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

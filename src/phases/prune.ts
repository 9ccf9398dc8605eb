import * as core from '@actions/core'
import type { DeployContext } from '../context.js'
import type { RemoteLayout } from '../layout.js'
import { joinCode, sh, type ShellCode } from '../shell.js'
import { manifestPath } from './upload.js'

/** Releases to delete: all but the `keep` newest, never the live one or the one just deployed. */
export function releasesToPrune(releases: string[], keep: number, protect: string[]): string[] {
  const newestFirst = [...new Set(releases)].sort().reverse()
  return newestFirst.slice(keep).filter(name => !protect.includes(name))
}

/** Deletes the given releases and their manifests, plus staging dirs left by failed uploads. */
export function pruneScript(layout: RemoteLayout, doomed: string[]): ShellCode {
  const removals = doomed.map(
    name => sh`rm -rf -- ${`${layout.releasesDir}/${name}`} ${manifestPath(layout, name)}`
  )
  return joinCode([
    ...removals,
    sh`for stale in ${layout.releasesDir}/.staging-*; do if [ -e "$stale" ]; then rm -rf -- "$stale"; fi; done`
  ])
}

/** prune: keep `keep-releases` releases. */
export async function prune(ctx: DeployContext): Promise<void> {
  const { settings, session, layout } = ctx
  const doomed = releasesToPrune([...ctx.existingReleases, ctx.release], settings.keepReleases, [
    ctx.release
  ])
  await session.remote.run(pruneScript(layout, doomed), { phase: 'prune', timeoutSeconds: 300 })
  core.info(doomed.length > 0 ? `Removed old release(s): ${doomed.join(', ')}` : 'Nothing to prune')
}

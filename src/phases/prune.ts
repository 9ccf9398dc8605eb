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

/** Deletes the given releases and their manifests (the upload clears leftover staging trees). */
export function pruneScript(layout: RemoteLayout, doomed: string[]): ShellCode {
  return joinCode(
    doomed.map(
      name => sh`rm -rf -- ${`${layout.releasesDir}/${name}`} ${manifestPath(layout, name)}`
    )
  )
}

/** prune: keep `keep-releases` releases. */
export async function prune(ctx: DeployContext): Promise<void> {
  const { settings, session, layout } = ctx
  const doomed = releasesToPrune([...ctx.existingReleases, ctx.release], settings.keepReleases, [
    ctx.release
  ])
  if (doomed.length === 0) {
    core.info('Nothing to prune')
    return
  }
  await session.remote.run(pruneScript(layout, doomed), { phase: 'prune', timeoutSeconds: 300 })
  core.info(`Removed old release(s): ${doomed.join(', ')}`)
}

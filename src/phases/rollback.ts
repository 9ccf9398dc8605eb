import * as core from '@actions/core'
import type { DeployContext } from '../context.js'
import type { RemoteLayout } from '../layout.js'
import { sh, type ShellCode } from '../shell.js'
import { PhaseError } from '../phase.js'
import { restartService } from './restart.js'
import { releasesLogScript, switchCurrentScript } from './switch.js'
import { verifyService } from './verify.js'

/**
 * Marks `failed` as BAD_RELEASE (with the reason) and prints the newest other release not marked
 * bad (`candidate NAME`) and its stamp (`sha SHA`).
 */
export function markBadScript(
  layout: RemoteLayout,
  failed: string,
  reason: string,
  stampFile: string
): ShellCode {
  return sh`printf '%s\n' ${reason} > ${`${layout.releasesDir}/${failed}/BAD_RELEASE`} || exit 1
cd -- ${layout.releasesDir} || exit 1
ls -1r | while IFS= read -r name; do
  if [ "$name" = ${failed} ] || [ ! -d "$name" ] || [ -e "$name/BAD_RELEASE" ]; then continue; fi
  printf 'candidate %s\n' "$name"
  printf 'sha %s\n' "$(head -c 200 -- "$name/"${stampFile} 2>/dev/null)"
  break
done`
}

/** Runs one part of the rollback, naming it (or the host-step phase that failed) in any error. */
async function step<T>(name: string, body: () => Promise<T>): Promise<T> {
  try {
    return await body()
  } catch (error) {
    const text =
      error instanceof PhaseError
        ? `${error.phase}: ${error.detail}`
        : `${name}: ${error instanceof Error ? error.message : String(error)}`
    throw new Error(text, { cause: error })
  }
}

const errorText = (error: unknown): string =>
  error instanceof Error ? error.message : String(error)

/**
 * rollback: after a failure past the switch, return to the newest good release and prove it
 * serves. Returns one sentence saying how that went, for the failure message.
 */
export async function rollback(
  ctx: DeployContext,
  failure: string,
  token: string
): Promise<string> {
  const { settings, session, layout, report } = ctx
  const remote = session.remote
  const firstLine = failure.split('\n')[0]
  const { stdout } = await remote.run(
    markBadScript(layout, ctx.release, firstLine, settings.stampFile),
    {
      phase: 'rollback',
      timeoutSeconds: 60
    }
  )
  core.info(`Marked ${ctx.release} as BAD_RELEASE`)
  const previous = /^candidate (.+)$/m.exec(stdout)?.[1]
  const previousSha = /^sha (.*)$/m.exec(stdout)?.[1]?.trim()
  if (!previous || !previousSha) {
    try {
      await step('stop', () => restartService(ctx, undefined))
      return 'There is no earlier good release to roll back to; the failed release was stopped.'
    } catch (error) {
      return `There is no earlier good release to roll back to, and stopping the failed one failed too: ${errorText(error)}`
    }
  }
  const back: DeployContext = {
    ...ctx,
    release: previous,
    releaseDir: `${layout.releasesDir}/${previous}`,
    sha: previousSha
  }
  try {
    const switchBack = sh`${switchCurrentScript(layout, previous, token)} && ${releasesLogScript(
      layout,
      {
        time: new Date().toISOString(),
        event: 'rollback',
        from: ctx.release,
        release: previous,
        sha: previousSha,
        reason: firstLine,
        run: ctx.run
      }
    )} || exit 1
printf '%s -> releases/%s (rollback)\n' ${layout.current} ${previous}`
    const restart = await step('restart', () => restartService(back, switchBack))
    const verified = await step('verify', () => verifyService(back, previousSha, restart))
    report.rolledBack = true
    report.reportedVersion = verified.version ?? verified.commit
  } catch (error) {
    return `The rollback to ${previous} (${previousSha.slice(0, 12)}) also failed: ${errorText(error)}`
  }
  return `Rolled back to ${previous}: it is verified serving ${previousSha}.`
}

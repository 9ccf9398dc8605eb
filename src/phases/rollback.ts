import * as core from '@actions/core'
import type { DeployContext } from '../context.js'
import { relativeToTarget, UNVERIFIED_MARK, type RemoteLayout } from '../layout.js'
import { sh, type ShellCode } from '../shell.js'
import { errorText, PhaseError } from '../phase.js'
import { checkImport } from './prepare.js'
import { restartService } from './restart.js'
import { releasesLogScript, switchCurrentScript } from './switch.js'
import { verifyService } from './verify.js'

/**
 * Marks `failed` as BAD_RELEASE (with the reason), then chooses what to return to: only a release
 * that passed verify (no UNVERIFIED or BAD_RELEASE mark), `previous` (live before this deploy) if
 * it did, else the newest one that did (a run that died after its switch leaves its release live
 * and unverified). Prints `candidate NAME live|verified` and its stamp (`sha SHA`).
 */
export function markBadScript(
  layout: RemoteLayout,
  failed: string,
  reason: string,
  previous: string | undefined,
  stampFile: string
): ShellCode {
  // From the target, reading files through redirections: a path in a command line is what a
  // user's `pkill -f PATH` matches.
  return sh`cd -- ${layout.target} || exit 1
printf '%s\n' ${reason} > ${`releases/${failed}/BAD_RELEASE`} || exit 1
verified() { [ -n "$1" ] && [ "$1" != ${failed} ] && [ -d "releases/$1" ] && [ ! -e "releases/$1/"${UNVERIFIED_MARK} ] && [ ! -e "releases/$1/BAD_RELEASE" ]; }
if verified ${previous ?? ''}; then candidate=${previous ?? ''}; how=live; else
  candidate=$(ls -1r releases 2>/dev/null | while IFS= read -r name; do if verified "$name"; then printf '%s\n' "$name"; break; fi; done)
  how=verified
fi
if [ -n "$candidate" ]; then
  printf 'candidate %s %s\n' "$candidate" "$how"
  printf 'sha %s\n' "$(head -c 200 < "releases/$candidate/"${stampFile} 2>/dev/null)"
fi`
}

/** Runs one part of the rollback, naming it (or the host-step phase that failed) in any error. */
async function step<T>(name: string, body: () => Promise<T>): Promise<T> {
  try {
    return await body()
  } catch (error) {
    const text =
      error instanceof PhaseError
        ? `${error.phase}: ${error.detail}`
        : `${name}: ${errorText(error)}`
    throw new Error(text, { cause: error })
  }
}

/**
 * rollback: after a failure past the switch, return to the release that was live before this
 * deploy (recorded by upload, never a newer release that was only uploaded) and prove it serves.
 * Returns one sentence saying how that went, for the failure message.
 */
export async function rollback(
  ctx: DeployContext,
  failure: string,
  token: string
): Promise<string> {
  const { settings, session, layout, report } = ctx
  const firstLine = failure.split('\n')[0]
  const { stdout } = await step('mark', () =>
    session.remote.run(
      markBadScript(layout, ctx.release, firstLine, ctx.previousRelease, settings.stampFile),
      { phase: 'rollback', timeoutSeconds: 60 }
    )
  )
  core.info(`Marked ${ctx.release} as BAD_RELEASE`)
  const [, previous, how] = /^candidate (\S+) (live|verified)$/m.exec(stdout) ?? []
  const previousSha = /^sha (.*)$/m.exec(stdout)?.[1]?.trim()
  if (!previous || !previousSha) {
    const why = previous
      ? `${previous} has no ${settings.stampFile}`
      : ctx.previousRelease
        ? `${ctx.previousRelease}, the release live before this deploy, is gone or was never verified, and no other release was`
        : 'no release was live before this deploy'
    try {
      await step('stop', () => restartService(ctx, undefined))
      return `There is nothing to roll back to (${why}); the failed release was stopped.`
    } catch (error) {
      return `There is nothing to roll back to (${why}), and stopping the failed release failed too: ${errorText(error)}`
    }
  }
  const which =
    how === 'live'
      ? 'the release live before this deploy'
      : `the last verified release (${ctx.previousRelease ?? 'the release live before this deploy'} was never verified)`
  core.info(`Rolling back to ${previous}, ${which}`)
  const back: DeployContext = {
    ...ctx,
    release: previous,
    releaseDir: `${layout.releasesDir}/${previous}`,
    sha: previousSha
  }
  if (settings.pythonImportCheck) {
    try {
      await checkImport(back)
    } catch (error) {
      return `The rollback to ${previous} was not started, and ${ctx.release} is still live: its import check failed: ${errorText(error)}`
    }
  }
  try {
    // Part of the restart step, which runs from the target.
    const here = relativeToTarget(layout)
    const switchBack = sh`${switchCurrentScript(here, previous, token)} && ${releasesLogScript(
      here,
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
  return `Rolled back to ${previous}, ${which}: it is verified serving ${previousSha}.`
}

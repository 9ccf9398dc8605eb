import * as core from '@actions/core'
import type { DeployContext } from '../context.js'
import { relativeToTarget, type RemoteLayout } from '../layout.js'
import { sh, type ShellCode } from '../shell.js'
import { errorText, PhaseError } from '../phase.js'
import { checkImport } from './prepare.js'
import { restartService } from './restart.js'
import { releasesLogScript, switchCurrentScript } from './switch.js'
import { verifyService } from './verify.js'

/**
 * Marks `failed` as BAD_RELEASE (with the reason). When `previous` (the release live before this
 * deploy) is still there, prints `candidate NAME`, its stamp (`sha SHA`) and any bad mark it carries.
 */
export function markBadScript(
  layout: RemoteLayout,
  failed: string,
  reason: string,
  previous: string | undefined,
  stampFile: string
): ShellCode {
  const mark = sh`printf '%s\n' ${reason} > ${`${layout.releasesDir}/${failed}/BAD_RELEASE`} || exit 1`
  if (!previous || previous === failed) return mark
  const dir = `${layout.releasesDir}/${previous}`
  // Files are read through redirections: a path in a command line is what `pkill -f PATH` matches.
  return sh`${mark}
if [ -d ${dir} ]; then
  printf 'candidate %s\n' ${previous}
  printf 'sha %s\n' "$(head -c 200 < ${`${dir}/${stampFile}`} 2>/dev/null)"
  if [ -e ${`${dir}/BAD_RELEASE`} ]; then printf 'bad %s\n' "$(head -n 1 < ${`${dir}/BAD_RELEASE`})"; fi
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
  const previous = /^candidate (.+)$/m.exec(stdout)?.[1]
  const previousSha = /^sha (.*)$/m.exec(stdout)?.[1]?.trim()
  if (!previous || !previousSha) {
    const why = ctx.previousRelease
      ? `${ctx.previousRelease}, the release live before this deploy, is gone or has no ${settings.stampFile}`
      : 'no release was live before this deploy'
    try {
      await step('stop', () => restartService(ctx, undefined))
      return `There is nothing to roll back to (${why}); the failed release was stopped.`
    } catch (error) {
      return `There is nothing to roll back to (${why}), and stopping the failed release failed too: ${errorText(error)}`
    }
  }
  const markedBad = /^bad (.*)$/m.exec(stdout)?.[1]
  core.info(
    `Rolling back to ${previous}, the release live before this deploy` +
      (markedBad ? ` (it is marked BAD_RELEASE: ${markedBad})` : '')
  )
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
  return `Rolled back to ${previous}, the release live before this deploy: it is verified serving ${previousSha}.`
}

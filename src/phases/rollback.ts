import * as core from '@actions/core'
import type { DeployContext } from '../context.js'
import { relativeToTarget, UNVERIFIED_MARK, type RemoteLayout } from '../layout.js'
import { sh, type ShellCode } from '../shell.js'
import { errorText, PhaseError } from '../phase.js'
import { checkImport } from './prepare.js'
import { restartService } from './restart.js'
import { releasesLogScript, switchCurrentScript } from './switch.js'
import { verifyService } from './verify.js'
import { decide, UndoneByHost } from './watchdog.js'

/**
 * Chooses what to return to when `failed` cannot stay: only a release that passed verify (no
 * UNVERIFIED or BAD_RELEASE mark), `previous` (live before this deploy) if it did, else the newest
 * one that did (a run that died after its switch leaves its release live and unverified). Runs
 * from the target; prints `candidate NAME live|verified` and its stamp (`sha SHA`).
 */
export function fallbackScript(
  failed: string,
  previous: string | undefined,
  stampFile: string
): ShellCode {
  // Files are read through redirections: a path in a command line is what `pkill -f PATH` matches.
  return sh`verified() { [ -n "$1" ] && [ "$1" != ${failed} ] && [ -d "releases/$1" ] && [ ! -e "releases/$1/"${UNVERIFIED_MARK} ] && [ ! -e "releases/$1/BAD_RELEASE" ]; }
if verified ${previous ?? ''}; then candidate=${previous ?? ''}; how=live; else
  candidate=$(ls -1r releases 2>/dev/null | while IFS= read -r name; do if verified "$name"; then printf '%s\n' "$name"; break; fi; done)
  how=verified
fi
if [ -n "$candidate" ]; then
  printf 'candidate %s %s\n' "$candidate" "$how"
  printf 'sha %s\n' "$(head -c 200 < "releases/$candidate/"${stampFile} 2>/dev/null)"
fi`
}

/** A release to return to, as fallbackScript found it. */
export interface Fallback {
  release: string
  sha: string
  /** `live`: the release live before this deploy; `verified`: the newest verified one. */
  how: 'live' | 'verified'
}

/** fallbackScript's answer; undefined when it found none (or one without its stamp). */
export function parseFallback(stdout: string): Fallback | undefined {
  const [, release, how] = /^candidate (\S+) (live|verified)$/m.exec(stdout) ?? []
  const sha = /^sha (.*)$/m.exec(stdout)?.[1]?.trim()
  return release && sha ? { release, sha, how: how as Fallback['how'] } : undefined
}

/**
 * Marks `failed` as BAD_RELEASE (with the reason), then runs fallbackScript. A full disk may leave
 * the mark without its reason, never without the mark.
 */
export function markBadScript(
  layout: RemoteLayout,
  failed: string,
  reason: string,
  previous: string | undefined,
  stampFile: string
): ShellCode {
  const mark = `releases/${failed}/BAD_RELEASE`
  return sh`cd -- ${layout.target} || exit 1
printf '%s\n' ${reason} 2>/dev/null > ${mark} || [ -e ${mark} ] || exit 1
${fallbackScript(failed, previous, stampFile)}`
}

/** The context of the release `ctx` returns to: its directory, its commit. */
export function fallbackContext(ctx: DeployContext, fallback: Fallback): DeployContext {
  return {
    ...ctx,
    release: fallback.release,
    releaseDir: `${ctx.layout.releasesDir}/${fallback.release}`,
    sha: fallback.sha
  }
}

/**
 * The switch of a rollback, a restart-step body (which runs from the target): `current` back to
 * the fallback, and a `rollback` line in releases.log naming who did it.
 */
export function switchBackScript(
  ctx: DeployContext,
  fallback: Fallback,
  reason: string,
  by: string
): ShellCode {
  const here = relativeToTarget(ctx.layout)
  return sh`${switchCurrentScript(here, fallback.release, ctx.lockToken)} || exit 1
${releasesLogScript(here, {
  time: new Date().toISOString(),
  event: 'rollback',
  from: ctx.release,
  release: fallback.release,
  sha: fallback.sha,
  reason,
  run: ctx.run,
  by
})}
printf '%s -> releases/%s (rollback)\n' ${ctx.layout.current} ${fallback.release}`
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
export async function rollback(ctx: DeployContext, failure: string): Promise<string> {
  const { settings, session, layout, report } = ctx
  const firstLine = failure.split('\n')[0]
  try {
    // The decision is this run's unless the host's watchdog took it (this runner froze too long).
    await decide(ctx, 'rollback')
  } catch (error) {
    if (!(error instanceof UndoneByHost)) throw error
    report.rolledBack = error.undo.undone
    return error.undo.text
  }
  const { stdout } = await step('mark', () =>
    session.remote.run(
      markBadScript(layout, ctx.release, firstLine, ctx.previousRelease, settings.stampFile),
      { phase: 'rollback', timeoutSeconds: 60 }
    )
  )
  core.info(`Marked ${ctx.release} as BAD_RELEASE`)
  const fallback = parseFallback(stdout)
  if (!fallback) {
    const previous = /^candidate (\S+)/m.exec(stdout)?.[1]
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
  const { release: previous, sha: previousSha } = fallback
  const which =
    fallback.how === 'live'
      ? 'the release live before this deploy'
      : `the last verified release (${ctx.previousRelease ?? 'the release live before this deploy'} was never verified)`
  core.info(`Rolling back to ${previous}, ${which}`)
  const back = fallbackContext(ctx, fallback)
  if (settings.pythonImportCheck) {
    try {
      await checkImport(back)
    } catch (error) {
      return `The rollback to ${previous} was not started, and ${ctx.release} is still live: its import check failed: ${errorText(error)}`
    }
  }
  try {
    const switchBack = switchBackScript(ctx, fallback, firstLine, 'runner')
    const restart = await step('restart', () => restartService(back, switchBack))
    const verified = await step('verify', () => verifyService(back, previousSha, restart))
    report.rolledBack = true
    report.reportedVersion = verified.version ?? verified.commit
  } catch (error) {
    return `The rollback to ${previous} (${previousSha.slice(0, 12)}) also failed: ${errorText(error)}`
  }
  return `Rolled back to ${previous}, ${which}: it is verified serving ${previousSha}.`
}

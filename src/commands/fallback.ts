import type { DeployContext } from '../model/context.js'
import { relativeToTarget, UNVERIFIED_MARK, type RemoteLayout } from '../remote/layout.js'
import FALLBACK_SCRIPT from '../host/rollback/fallback.sh'
import { sh, withInputs, type ShellCode } from '../remote/shell.js'
import { releasesLogScript, switchCurrentScript } from './switch.js'
import { answerOf } from '../remote/protocol.js'

/*
 * What a rollback returns to, whoever runs it: the runner (rollback.ts), the post step
 * (cleanup.ts) or the host's watchdog (watchdog.ts).
 */

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
  return withInputs(FALLBACK_SCRIPT, {
    fb_failed: failed,
    fb_previous: previous ?? '',
    fb_stamp: stampFile,
    fb_unverified: UNVERIFIED_MARK
  })
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
  const [, release, how] = /^(\S+) (live|verified)$/.exec(answerOf(stdout, 'candidate') ?? '') ?? []
  const sha = answerOf(stdout, 'sha')?.trim()
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
# In place of whatever the repository put at that name: never written through a link.
rm -rf -- ${mark}; (set -C && printf '%s\n' ${reason} 2>/dev/null > ${mark}) || [ -e ${mark} ] || exit 1
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

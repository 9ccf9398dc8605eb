import type { DeployContext } from '../model/context.js'
import { errorText, PhaseError, type PhaseName } from '../model/phase.js'
import type { Settings } from '../inputs/settings.js'
import { restartService, withdrawService, type Restart } from './restart.js'
import {
  fallbackContext,
  markBadScript,
  parseFallback,
  switchBackScript
} from '../commands/fallback.js'
import { verifyService } from './verify.js'
import { decide, UndoneByHost } from './watchdog.js'
import { info } from '../report/host-text.js'
import { COMMAND_SECONDS } from '../model/budgets.js'
import { answerOf } from '../remote/protocol.js'
import { strategyOf } from '../model/strategy.js'
import type { RollbackOutcome } from '../model/outcomes.js'

/** The phases whose failure a rollback can undo: the new release was switched to and started. */
const UNDOABLE: readonly PhaseName[] = ['start', 'verify']

/**
 * The one rollback rule, for the runner and the post step alike: with releases and
 * rollback-on-failure, a failure once the new release was started, or a restart step killed
 * halfway (what serves is then no known state, which the last verified release repairs). A failure
 * before the switch left the old service untouched or merely stopped: nothing to undo.
 */
export function rollsBack(
  settings: Settings,
  failure: { phase: PhaseName; killed?: boolean }
): boolean {
  return (
    strategyOf(settings).keepsReleases &&
    settings.rollbackOnFailure &&
    (failure.killed === true || UNDOABLE.includes(failure.phase))
  )
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
 * Takes the decision on the release as a rollback: the run's, unless the host's watchdog took it
 * first (this runner froze too long), and then what the watchdog did is the outcome.
 */
async function claimDecision(ctx: DeployContext): Promise<RollbackOutcome | undefined> {
  try {
    await decide(ctx, 'rollback')
    return undefined
  } catch (error) {
    if (!(error instanceof UndoneByHost)) throw error
    ctx.report.rolledBack = error.undo.undone
    return { kind: 'by-host', undone: error.undo.undone, text: error.undo.text }
  }
}

/**
 * Overlap (README, "Overlap"), a failure before the old service was retired: the old release was
 * never stopped and still serves. The decision is taken as a rollback (the watchdog stands down),
 * the new release is marked bad, its processes stop (the old ones spared) and `current` returns to
 * the release that was live. A restart of the live release has nothing to mark or switch back.
 */
export async function withdraw(
  ctx: DeployContext,
  restart: Restart,
  failure: string
): Promise<RollbackOutcome> {
  const { settings, session, layout, report } = ctx
  const byHost = await claimDecision(ctx)
  if (byHost) return byHost
  const previous =
    ctx.previousRelease && ctx.previousSha && ctx.previousRelease !== ctx.release
      ? { release: ctx.previousRelease, sha: ctx.previousSha, how: 'live' as const }
      : undefined
  const firstLine = failure.split('\n')[0]
  if (previous) {
    await step('mark', () =>
      session.remote.run(
        markBadScript(layout, ctx.release, firstLine, previous.release, settings.stampFile),
        { phase: 'rollback', timeoutSeconds: COMMAND_SECONDS.quick }
      )
    )
    info(`Marked ${ctx.release} as BAD_RELEASE`)
  }
  await step('withdraw', () =>
    withdrawService(
      ctx,
      restart,
      previous && switchBackScript(ctx, previous, `${firstLine} (withdrawn, overlap)`, 'runner')
    )
  )
  report.rolledBack = true
  return { kind: 'withdrawn', release: previous?.release, sha: previous?.sha }
}

/**
 * rollback: after a failure past the switch, return to the release that was live before this
 * deploy (recorded by upload, never a newer release that was only uploaded) and prove it serves.
 * Says how that went, for the failure message, and when the restored release answered.
 */
export async function rollback(ctx: DeployContext, failure: string): Promise<RollbackOutcome> {
  const { settings, session, layout, report } = ctx
  const firstLine = failure.split('\n')[0]
  const byHost = await claimDecision(ctx)
  if (byHost) return byHost
  const { stdout } = await step('mark', () =>
    session.remote.run(
      markBadScript(layout, ctx.release, firstLine, ctx.previousRelease, settings.stampFile),
      { phase: 'rollback', timeoutSeconds: COMMAND_SECONDS.quick }
    )
  )
  info(`Marked ${ctx.release} as BAD_RELEASE`)
  const fallback = parseFallback(stdout)
  if (!fallback) {
    const previous = answerOf(stdout, 'candidate')?.split(' ')[0] || undefined
    const why = previous
      ? `${previous} has no ${settings.stampFile}`
      : ctx.previousRelease
        ? `${ctx.previousRelease}, the release live before this deploy, is gone or was never verified, and no other release was`
        : 'no release was live before this deploy'
    try {
      await step('stop', () => restartService(ctx, undefined))
      return { kind: 'nothing', why }
    } catch (error) {
      return { kind: 'nothing', why, stopFailed: errorText(error) }
    }
  }
  const { release: previous, sha: previousSha } = fallback
  const which =
    fallback.how === 'live'
      ? 'the release live before this deploy'
      : `the last verified release (${ctx.previousRelease ?? 'the release live before this deploy'} was never verified)`
  info(`Rolling back to ${previous}, ${which}`)
  // Nothing is redone: the fallback passed verify (its import check with it) when it was
  // deployed, and its venv is still on disk, kept by prune for every kept release.
  const back = fallbackContext(ctx, fallback)
  try {
    const switchBack = switchBackScript(ctx, fallback, firstLine, 'runner')
    const restart = await step('restart', () => restartService(back, switchBack))
    const verified = await step('verify', () => verifyService(back, previousSha, restart))
    report.rolledBack = true
    report.reportedVersion = verified.version ?? verified.commit
    return {
      kind: 'restored',
      release: previous,
      sha: previousSha,
      which: fallback.how,
      neverVerified: fallback.how === 'live' ? undefined : ctx.previousRelease,
      servingSince: verified.firstAnsweredAt
    }
  } catch (error) {
    return { kind: 'failed', release: previous, sha: previousSha, error: errorText(error) }
  }
}

import type { HostStepReader } from '../remote/host-step.js'
import type { PhaseName } from '../model/phase.js'
import { rollsBack } from '../tasks/rollback.js'
import type { HostUndo } from '../commands/watchdog.js'
import type { UnverifiedSwitch } from '../model/post-state.js'
import type { Settings } from '../inputs/settings.js'

/**
 * What the post step does about a switch the main step left unverified, decided from what the
 * host shows: the watchdog's journal if it acted, else the restart step's output. cleanup.ts
 * carries it out.
 */
export type Recovery =
  /** The host's watchdog already returned to the last verified release. */
  | { action: 'report-undo'; undo: HostUndo }
  /** Nothing the post step can safely do: say so and leave the host as it is. */
  | { action: 'leave'; why: 'killed' | 'unfinished' | 'never-started'; phase?: PhaseName }
  /** The step failed before the new release started: the old one was only stopped. */
  | { action: 'failed-before-start'; phase: PhaseName }
  /**
   * The new release started: prove it serves. With `overlap`, it started beside the old service
   * (README, "Overlap"), which is still to retire; with `retired`, the old one was retired already.
   */
  | { action: 'verify'; overlap?: { mark: number; retired: boolean; gone?: number } }
  /** The new release failed to start: the same as a failed verify (see `afterFailure`). */
  | { action: 'failed-start' }
  /** Overlap: the new release failed beside the old service, never stopped: withdraw it. */
  | { action: 'withdraw'; mark: number }
  /** Overlap: the old service could not be retired; the new one answered beside it. */
  | { action: 'retire-failed'; phase: PhaseName }

export function recoveryFor(
  entry: UnverifiedSwitch,
  seen: { undo: HostUndo } | { step: HostStepReader }
): Recovery {
  if ('undo' in seen) return { action: 'report-undo', undo: seen.undo }
  const { step } = seen
  if (step.died) return { action: 'leave', why: 'killed', phase: step.lastPhase('stop') }
  if (step.exit === undefined) return { action: 'leave', why: 'unfinished' }
  const data = (phase: PhaseName) => step.outputs.get(phase)?.data
  // Overlap's steps (README, "Overlap"): the start beside the old service marks itself before its
  // switch (or start); the old service's retirement names the release in its stop.
  const overlapMark = data('switch')?.mark ?? data('start')?.mark
  const retired = data('stop')?.release
  const named = data('switch')?.release ?? data('start')?.release ?? retired
  // The run was cut off after it recorded the switch but before the host step began.
  if (step.exit.code === 0 && named !== entry.release) {
    return { action: 'leave', why: 'never-started' }
  }
  if (step.exit.code === 0) {
    if (overlapMark)
      return { action: 'verify', overlap: { mark: Number(overlapMark), retired: false } }
    if (retired)
      return {
        action: 'verify',
        overlap: {
          mark: Number(data('stop')?.mark),
          retired: true,
          gone: Number(data('wait-for-exit')?.gone) || undefined
        }
      }
    return { action: 'verify' }
  }
  if (overlapMark) return { action: 'withdraw', mark: Number(overlapMark) }
  const phase = step.lastPhase('stop')
  if (retired) return { action: 'retire-failed', phase }
  return phase === 'start' ? { action: 'failed-start' } : { action: 'failed-before-start', phase }
}

/**
 * After the new release failed (its start, or the post step's verify): roll back by the same rule
 * as the runner, or why not.
 */
export function afterFailure(
  settings: Settings,
  entry: UnverifiedSwitch,
  phase: 'start' | 'verify'
): { rollBack: true } | { rollBack: false; why: string } {
  if (!entry.fallback) return { rollBack: false, why: 'there is no release to roll back to' }
  if (!rollsBack(settings, { phase }))
    return { rollBack: false, why: 'rollback-on-failure is false' }
  return { rollBack: true }
}

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
  /** The new release started: prove it serves. */
  | { action: 'verify' }
  /** The new release failed to start: the same as a failed verify (see `afterFailure`). */
  | { action: 'failed-start' }

export function recoveryFor(
  entry: UnverifiedSwitch,
  seen: { undo: HostUndo } | { step: HostStepReader }
): Recovery {
  if ('undo' in seen) return { action: 'report-undo', undo: seen.undo }
  const { step } = seen
  if (step.died) return { action: 'leave', why: 'killed', phase: step.lastPhase('stop') }
  if (step.exit === undefined) return { action: 'leave', why: 'unfinished' }
  // The run was cut off after it recorded the switch but before the host step began.
  if (step.exit.code === 0 && step.outputs.get('switch')?.data.release !== entry.release) {
    return { action: 'leave', why: 'never-started' }
  }
  if (step.exit.code === 0) return { action: 'verify' }
  const phase = step.lastPhase('stop')
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

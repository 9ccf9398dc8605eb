import type { DeployContext } from '../model/context.js'
import { insideTarget, relativeToTarget } from '../remote/layout.js'
import { holderPidFile } from './hold.js'
import STOP_SCRIPT from '../host/restart/stop.sh'
import WAIT_SCRIPT from '../host/restart/wait-for-exit.sh'
import { sh, withInputs, type ShellCode } from '../remote/shell.js'
import type { PhaseOutput } from '../remote/host-step.js'
import { exportEnvScript, userCommandInputs, type UserCommand } from './environment.js'
import { EXIT } from '../remote/protocol.js'
import { strategyOf } from '../model/strategy.js'

/** More process-match hits than this and stop refuses: the pattern is too broad to be the service. */
export const MAX_PATTERN_HITS = 10

/** The directory the service runs from now: `current` for releases, the target in place. */
export function liveDir(ctx: DeployContext): string {
  return strategyOf(ctx.settings).liveDir(ctx.layout)
}

export interface StopParameters {
  target: string
  stateFile: string
  pattern: string
  /** The stop-command with its environment, run from `live` (or the target before a first deploy). */
  stopCommand?: { live: string } & UserCommand
  /** Overlap: which of two instances stays (README, "Overlap"): the other alone is stopped. */
  keep?: Keep
}

/**
 * Overlap's two instances, told apart by start time against `mark` (clock ticks since boot, when
 * the new one's step began): `new` keeps the new release's processes while the old one is retired,
 * `old` keeps the old one's while a failed new one is withdrawn.
 */
export interface Keep {
  instance: 'new' | 'old'
  mark: number
}

/** stop, a host-step body (stop.sh): the stop-command, then SIGTERM to every process of the service. */
export function stopBody(parameters: StopParameters): ShellCode {
  const { target, stateFile, pattern, stopCommand } = parameters
  return withInputs(STOP_SCRIPT, {
    stop_target: target,
    stop_state: insideTarget(target, stateFile),
    stop_pattern: pattern,
    stop_live: stopCommand?.live ?? '',
    stop_keep: parameters.keep ? `${parameters.keep.instance} ${parameters.keep.mark}` : '',
    ...userCommandInputs('stop', stopCommand ?? { environment: sh``, command: '' }),
    max_hits: MAX_PATTERN_HITS,
    pattern_too_broad: EXIT.patternTooBroad
  })
}

/**
 * The stop body for this deploy. With `keep`, one of overlap's two instances stays; a failed new
 * one is withdrawn without the stop-command, which would stop the old one too.
 */
export function stopBodyFor(ctx: DeployContext, keep?: Keep): ShellCode {
  const { settings, layout } = ctx
  const live = liveDir(ctx)
  return stopBody({
    target: layout.target,
    stateFile: layout.stateFile,
    pattern: settings.processMatch ?? '',
    stopCommand:
      settings.stopCommand && keep?.instance !== 'old'
        ? { live, environment: exportEnvScript(ctx, live), command: settings.stopCommand }
        : undefined,
    keep
  })
}

/** When wait-for-exit saw the stopped service gone (host uptime, s), if it stopped one. */
export function goneAt(output: PhaseOutput | undefined): number | undefined {
  const gone = output?.data.gone
  return gone && /^[\d.]+$/.test(gone) ? Number(gone) : undefined
}

interface WaitParameters {
  target: string
  /** The port holder's PID file (hold-ports), inside the target. */
  holderPidFile: string
  pattern: string
  ports: number[]
  timeoutSeconds: number
  killAfterTimeout: boolean
}

/** Seconds between the progress lines of a long wait-for-exit. */
const PROGRESS_SECONDS = 5

/** wait-for-exit, a host-step body after stop's (wait-for-exit.sh). */
export function waitForExitBody(parameters: WaitParameters): ShellCode {
  return withInputs(WAIT_SCRIPT, {
    wait_target: parameters.target,
    wait_pattern: parameters.pattern,
    wait_ports: parameters.ports,
    wait_timeout: parameters.timeoutSeconds,
    wait_kill: parameters.killAfterTimeout,
    wait_holder: parameters.holderPidFile,
    progress_seconds: PROGRESS_SECONDS,
    still_running: EXIT.stillRunning
  })
}

/** The wait-for-exit body's parameters for this deploy. */
export function waitParameters(ctx: DeployContext): WaitParameters {
  const { settings, layout } = ctx
  return {
    target: layout.target,
    holderPidFile: holderPidFile(relativeToTarget(layout)),
    pattern: settings.processMatch ?? '',
    ports: settings.ports,
    timeoutSeconds: settings.stopTimeoutSeconds,
    killAfterTimeout: settings.killAfterTimeout
  }
}

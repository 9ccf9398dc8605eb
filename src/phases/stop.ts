import * as core from '@actions/core'
import { sudoHint } from './sudo.js'
import type { DeployContext } from '../model/context.js'
import { insideTarget, relativeToTarget } from '../remote/layout.js'
import { holderPidFile } from './hold.js'
import STOP_SCRIPT from '../host/stop.sh'
import WAIT_SCRIPT from '../host/wait-for-exit.sh'
import { joinCode, sh, withInputs, type ShellCode } from '../remote/shell.js'
import type { PhaseOutput } from '../remote/host-step.js'
import type { Settings } from '../inputs/settings.js'
import { exportEnvScript, userCommandScript } from './environment.js'
import { MAX_PATTERN_HITS } from './processes.js'
import { EXIT } from '../remote/protocol.js'
import { strategyOf } from '../model/strategy.js'

/** The directory the service runs from now: `current` for releases, the target in place. */
export function liveDir(ctx: DeployContext): string {
  return strategyOf(ctx.settings).liveDir(ctx.layout)
}

/** What the stop found and did, for the verify phase's survivor check. */
export interface StoppedService {
  /** When the stop began, in clock ticks since boot: anything started earlier is old. */
  mark: number
  /** When the service it stopped was gone, in host uptime (s); undefined: nothing was stopped. */
  gone?: number
}

export interface StopParameters {
  target: string
  stateFile: string
  pattern: string
  /** The stop-command with its environment, run from `live` (or the target before a first deploy). */
  stopCommand?: { live: string; environment: ShellCode; command: string }
}

/**
 * stop, a host-step body (stop.sh): the stop-command, then SIGTERM to every process of the service.
 * The stop-command, with its environment, is the function `stop_command` the file calls.
 */
export function stopBody(parameters: StopParameters): ShellCode {
  const { target, stateFile, pattern, stopCommand } = parameters
  const command = stopCommand
    ? sh`stop_command() {
${stopCommand.environment}
${userCommandScript(stopCommand.command)}
}
`
    : sh``
  return joinCode([
    command,
    withInputs(STOP_SCRIPT, {
      stop_target: target,
      stop_state: insideTarget(target, stateFile),
      stop_pattern: pattern,
      stop_live: stopCommand?.live ?? '',
      max_hits: MAX_PATTERN_HITS,
      pattern_too_broad: EXIT.patternTooBroad
    })
  ])
}

/** The stop body for this deploy. */
export function stopBodyFor(ctx: DeployContext): ShellCode {
  const { settings, layout } = ctx
  const live = liveDir(ctx)
  return stopBody({
    target: layout.target,
    stateFile: layout.stateFile,
    pattern: settings.processMatch ?? '',
    stopCommand: settings.stopCommand
      ? { live, environment: exportEnvScript(ctx, live), command: settings.stopCommand }
      : undefined
  })
}

/** The failure of stop, in words, from what its body printed. */
export function stopFailure(code: number, output: PhaseOutput | undefined): string {
  const errors = output?.errors.join('\n') ?? ''
  if (code === EXIT.patternTooBroad) {
    return (
      `${errors}\nprocess-match must match the service only (at most ${MAX_PATTERN_HITS} processes, of one user): ` +
      'narrow it, e.g. to the start command line of the parent (its process group is stopped with it), or remove it: ' +
      'the action finds what it started by the DEPLOY_TARGET marker.'
    )
  }
  return `stopping failed (exit ${code}): ${errors || (output?.lines ?? []).slice(-10).join('\n')}`
}

/**
 * What the stop body reported. A stop-command that failed is a warning, as systemd treats a
 * failing ExecStop=: the stop went on by the marker, the recorded processes and process-match,
 * and wait-for-exit decided. `pkill` and `pgrep` exit 1 when nothing matched, the commonest case.
 */
export function stoppedService(
  output: PhaseOutput | undefined,
  stopCommand?: string,
  user = ''
): StoppedService {
  const failed = output?.data['stop-command-failed']
  if (failed) {
    const [code, first] = failed.split(' ')
    const nothingMatched =
      code === '1' && /(^|[\s;&|(])(pkill|pgrep|killall)\s/.test(stopCommand ?? '')
    core.warning(
      `The stop-command (${stopCommand ?? 'stop-command'}) exited with code ${code}` +
        (nothingMatched ? ': pkill/pgrep/killall exit 1 when no process matched' : '') +
        (first ? ' (before the first deploy there may be nothing to stop)' : '') +
        '. The action stopped the service by its DEPLOY_TARGET marker, the processes recorded by the last deploy and process-match, and wait-for-exit checked that it was gone.' +
        sudoHint((output?.lines ?? []).join('\n'), stopCommand ?? '', user),
      { title: 'stop-command failed' }
    )
  }
  return { mark: Number(output?.data.mark ?? 0) }
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

/** The failure of wait-for-exit, in words, from what its body printed. */
export function waitFailure(settings: Settings, output: PhaseOutput | undefined): string {
  const afterKill = output?.data.killed
    ? ' nor 5 s after SIGKILL'
    : settings.killAfterTimeout
      ? ''
      : ' (kill-after-timeout is off)'
  return `the old service did not go away within ${settings.stopTimeoutSeconds} s (stop-timeout)${afterKill}; nothing new was started.\n${output?.errors.join('\n') ?? ''}`.trimEnd()
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

import * as core from '@actions/core'
import { sudoHint } from './sudo.js'
import type { PhaseOutput } from '../remote/host-step.js'
import type { Settings } from '../inputs/settings.js'
import { MAX_PATTERN_HITS } from '../commands/stop.js'
import { EXIT } from '../remote/protocol.js'

/** What the stop found and did, for the verify phase's survivor check. */
export interface StoppedService {
  /** When the stop began, in clock ticks since boot: anything started earlier is old. */
  mark: number
  /** When the service it stopped was gone, in host uptime (s); undefined: nothing was stopped. */
  gone?: number
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

/** The failure of wait-for-exit, in words, from what its body printed. */
export function waitFailure(settings: Settings, output: PhaseOutput | undefined): string {
  const afterKill = output?.data.killed
    ? ' nor 5 s after SIGKILL'
    : settings.killAfterTimeout
      ? ''
      : ' (kill-after-timeout is off)'
  return `the old service did not go away within ${settings.stopTimeoutSeconds} s (stop-timeout)${afterKill}; nothing new was started.\n${output?.errors.join('\n') ?? ''}`.trimEnd()
}

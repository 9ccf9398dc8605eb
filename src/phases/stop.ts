import * as core from '@actions/core'
import type { DeployContext } from '../context.js'
import { insideTarget } from '../layout.js'
import { sh, type ShellCode } from '../shell.js'
import type { PhaseOutput } from '../host-step.js'
import type { Settings } from '../settings.js'
import { exportEnvScript, userCommandScript } from './environment.js'
import { MAX_PATTERN_HITS } from './processes.js'
import { EXIT, STEP_KEY } from '../protocol.js'

/** The directory the service runs from now: `current` for releases, the target in place. */
export function liveDir(ctx: DeployContext): string {
  return ctx.settings.strategy === 'releases' ? ctx.layout.current : ctx.layout.target
}

/** What the stop found and did, for the verify phase's survivor check. */
export interface StoppedService {
  /** When the stop began, in clock ticks since boot: anything started earlier is old. */
  mark: number
  /** When the command that stops the service was sent (ms since the epoch): where downtime starts. */
  sentAt: number
}

export interface StopParameters {
  target: string
  stateFile: string
  pattern: string
  /** The stop-command with its environment, run from `live` (or the target before a first deploy). */
  stopCommand?: { live: string; environment: ShellCode; command: string }
}

function stopCommandScript(target: string, stop: NonNullable<StopParameters['stopCommand']>) {
  return sh`if [ -d ${stop.live} ]; then dir=${stop.live}; first=; else dir=${target}; first=1; fi
(cd -- "$dir" || exit 1
${stop.environment}
${userCommandScript(stop.command)} < /dev/null) 2>&1
status=$?
if [ "$status" -ne 0 ] && [ -n "$first" ]; then
  printf '@@%s data first-stop-failed %s\n' ${STEP_KEY} "$status"
  printf 'stop-command failed (exit %s) before the first deploy; continuing\n' "$status"
elif [ "$status" -ne 0 ]; then
  printf '@@%s error stop-command exited with code %s; its output is above in the log\n' ${STEP_KEY} "$status"
  exit ${EXIT.stopCommandFailed}
else
  echo 'stop-command finished'
fi`
}

/**
 * stop, a host-step body (see host-step.ts): note when the stop began, run the stop-command, then
 * SIGTERM every process of the service (README, "How the action finds your service"), saying per process why it
 * was chosen. A process-match that hits more than a handful of processes, or processes of several
 * users, is refused before anything is signalled. Leaves `recorded`, `stopped_pids` and
 * `stopped_groups` for wait-for-exit.
 */
export function stopBody(parameters: StopParameters): ShellCode {
  const { target, stateFile, pattern, stopCommand } = parameters
  return sh`stop_mark=$(start_of $$)
printf '@@%s data mark %s\n' ${STEP_KEY} "$stop_mark"
${stopCommand ? stopCommandScript(target, stopCommand) : sh``}
pattern=${pattern}
recorded=$(recorded_processes ${insideTarget(target, stateFile)})
scan=$(service_scan ${target} "$recorded" "$pattern" '' '')
hits=$(printf '%s\n' "$scan" | awk '$1 == "signal" && $5 == "pattern" { print $2 }')
count=0; users=
for pid in $hits; do
  # A hit gone since the scan (a short-lived command) is nobody's service.
  user=$(user_of "$pid"); [ -n "$user" ] || continue
  count=$((count + 1))
  case " $users " in *" $user "*) ;; *) users="$users $user" ;; esac
done
several=; case "$users" in " "*" "*) several=1 ;; esac
if [ "$count" -gt ${MAX_PATTERN_HITS} ] || [ -n "$several" ]; then
  printf '@@%s error process-match %s matches %s processes of user(s)%s; nothing was signalled:\n' ${STEP_KEY} "'$pattern'" "$count" "$users"
  for pid in $hits; do user=$(user_of "$pid") && [ -n "$user" ] && printf '@@%s error   %s %s: %s\n' ${STEP_KEY} "$pid" "$user" "$(cmdline_of "$pid")"; done
  exit ${EXIT.patternTooBroad}
fi
# The log lines are written before the signals, so the service is not kept waiting for them.
said=$(printf '%s\n' "$scan" | while read -r kind pid _ _ _ why; do
  case $kind in
    signal) printf 'SIGTERM to %s (%s): %s\n' "$pid" "$(cmdline_of "$pid")" "$why" ;;
    # A protected process that is already gone (a pipeline of the action's own) is not worth a line.
    skip) command=$(cmdline_of "$pid"); [ -z "$command" ] || printf 'not signalling %s (%s): %s\n' "$pid" "$command" "$why" ;;
  esac
done)
stopped_pids=; stopped_groups=
eval "$(printf '%s\n' "$scan" | awk '$1 == "signal" { pids = pids " " $2 } $1 == "group" { groups = groups " " $2 } END { printf "stopped_pids=\"%s\"; stopped_groups=\"%s\"\n", pids, groups }')"
# shellcheck disable=SC2086 # one word per PID
[ -z "$stopped_pids" ] || kill -TERM $stopped_pids 2>/dev/null
[ -z "$said" ] || printf '%s\n' "$said"
[ -n "$stopped_pids" ] || echo "nothing to stop: no process carries this target's marker, none was recorded, and process-match found none"`
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
  if (code === EXIT.stopCommandFailed) {
    return `${errors}; its last lines:\n${(output?.lines ?? []).slice(-20).join('\n')}`
  }
  return `stopping failed (exit ${code}): ${errors || (output?.lines ?? []).slice(-10).join('\n')}`
}

/** What the stop body reported. */
export function stoppedService(output: PhaseOutput | undefined, sentAt: number): StoppedService {
  if (output?.data['first-stop-failed'])
    core.warning('stop-command failed before the first deploy; continuing')
  return { mark: Number(output?.data.mark ?? 0), sentAt }
}

interface WaitParameters {
  target: string
  pattern: string
  ports: number[]
  timeoutSeconds: number
  killAfterTimeout: boolean
}

/** Seconds between the progress lines of a long wait-for-exit. */
const PROGRESS_SECONDS = 5

/**
 * wait-for-exit, a host-step body after stop's: polls until none of the service's processes
 * (found as the stop found them, plus the groups it signalled) and no listener
 * on the ports is left. After the timeout: SIGKILL (once, then 5 s more) or fail naming what is
 * left. Prints how long the exit took.
 */
export function waitForExitBody(parameters: WaitParameters): ShellCode {
  const { target, pattern, ports, timeoutSeconds, killAfterTimeout } = parameters
  return sh`pattern=${pattern}
groups=$stopped_groups
ports=${ports.map(String).join(' ')}
now_s; begin=$now; reported=$now
deadline=$((begin + ${timeoutSeconds}))
killed=
# First watch the processes the stop signalled, every 10 ms with shell builtins only (no process
# started per check but sleep), so their exit is seen at once; then confirm with full scans.
watch=$stopped_pids
checks=$((${timeoutSeconds} * 80))
held_file=$(mktemp) || exit 1
while [ -n "$watch" ] && [ "$checks" -gt 0 ]; do
  checks=$((checks - 1))
  left=
  for pid in $watch; do
    if process_alive "$pid"; then left="$left $pid"; fi
  done
  watch=$left
  [ -z "$watch" ] || sleep 0.01
done
while :; do
  # The port check runs beside the scan: both only read, and each costs a few processes.
  (for port in $ports; do if port_held "$port"; then printf ' %s' "$port"; fi; done > "$held_file") &
  alive=$(service_scan ${target} "$recorded" "$pattern" "$groups" '' pids)
  wait $!
  held=; read -r held < "$held_file" || :
  now_s
  if [ -z "$alive$held" ]; then rm -f -- "$held_file"; printf 'old service gone after %s s\n' "$((now - begin))"; break; fi
  if [ "$((now - reported))" -ge ${PROGRESS_SECONDS} ]; then
    reported=$now
    printf 'still waiting after %s s (stop-timeout %s):' "$((now - begin))" ${timeoutSeconds}
    for pid in $alive; do printf ' pid %s (%s)' "$pid" "$(cmdline_of "$pid" | cut -c1-80)"; done
    for port in $held; do printf ' port %s held' "$port"; done
    echo
  fi
  if [ "$now" -ge "$deadline" ]; then
    if [ -z "$killed" ] && [ -n "$alive" ] && ${killAfterTimeout ? sh`true` : sh`false`}; then
      printf 'still running after %s s: SIGKILL to%s\n' ${timeoutSeconds} "$alive"
      printf '@@%s data killed 1\n' ${STEP_KEY}
      for pid in $alive; do kill -KILL "$pid" 2>/dev/null; done
      killed=1
      deadline=$((now + 5))
    else
      for pid in $alive; do printf '@@%s error pid %s still running: %s\n' ${STEP_KEY} "$pid" "$(cmdline_of "$pid")"; done
      for port in $held; do
        holders=$(port_holders "$port")
        printf '@@%s error port %s is still held by: %s\n' ${STEP_KEY} "$port" "\${holders:-a process this user cannot see}"
      done
      rm -f -- "$held_file"
      exit ${EXIT.stillRunning}
    fi
  fi
  sleep 0.2
done`
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
    pattern: settings.processMatch ?? '',
    ports: settings.ports,
    timeoutSeconds: settings.stopTimeoutSeconds,
    killAfterTimeout: settings.killAfterTimeout
  }
}

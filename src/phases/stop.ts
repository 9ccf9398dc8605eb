import * as core from '@actions/core'
import type { DeployContext } from '../context.js'
import { lastLines } from '../remote.js'
import { joinCode, sh, type ShellCode } from '../shell.js'
import { exportEnvScript } from './environment.js'
import { MAX_PATTERN_HITS, SERVICE_FUNCTIONS } from './processes.js'

/** Exit codes of the stop script that the action explains. */
const STOP_COMMAND_FAILED = 6
const PATTERN_TOO_BROAD = 5

/** The directory the service runs from now: `current` for releases, the target in place. */
export function liveDir(ctx: DeployContext): string {
  return ctx.settings.strategy === 'releases' ? ctx.layout.current : ctx.layout.target
}

/** What the stop found and did, for wait-for-exit and the verify phase's survivor check. */
export interface StoppedService {
  /** When the stop began, in clock ticks since boot: anything started earlier is old. */
  mark: number
  /** Process groups the stop signalled, watched by wait-for-exit. */
  groups: string[]
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
sh -c ${stop.command} < /dev/null)
status=$?
if [ "$status" -ne 0 ] && [ -n "$first" ]; then
  printf 'stop-command failed (exit %s) before the first deploy; continuing\n' "$status"
elif [ "$status" -ne 0 ]; then
  printf 'stop-command exited with code %s\n' "$status" >&2
  exit ${STOP_COMMAND_FAILED}
else
  echo 'stop-command finished'
fi`
}

/**
 * stop, on the host: note when the stop began, run the stop-command, then SIGTERM every process of
 * the service (DESIGN.md, "Service identity"), saying per process why it was chosen. A
 * process-match that hits more than a handful of processes, or processes of several users, is
 * refused before anything is signalled.
 */
export function stopScript(parameters: StopParameters): ShellCode {
  const { target, stateFile, pattern, stopCommand } = parameters
  return joinCode([
    SERVICE_FUNCTIONS,
    sh`printf 'stop began at boot tick %s\n' "$(start_of $$)"
${stopCommand ? stopCommandScript(target, stopCommand) : sh``}
pattern=${pattern}
if [ -n "$pattern" ] && ! command -v pgrep >/dev/null 2>&1; then
  echo 'process-match needs pgrep on the host (package procps)' >&2; exit 1
fi
scan=$(service_scan ${target} ${stateFile} "$pattern" '' '')
hits=$(printf '%s\n' "$scan" | awk '$1 == "signal" && $5 == "pattern" { print $2 }')
count=0; users=
for pid in $hits; do
  count=$((count + 1)); user=$(user_of "$pid")
  case " $users " in *" $user "*) ;; *) users="$users $user" ;; esac
done
several=; case "$users" in " "*" "*) several=1 ;; esac
if [ "$count" -gt ${MAX_PATTERN_HITS} ] || [ -n "$several" ]; then
  printf 'process-match %s matches %s processes of user(s)%s; nothing was signalled:\n' "'$pattern'" "$count" "$users" >&2
  for pid in $hits; do printf '  %s %s: %s\n' "$pid" "$(user_of "$pid")" "$(cmdline_of "$pid")" >&2; done
  exit ${PATTERN_TOO_BROAD}
fi
printf '%s\n' "$scan" | while read -r kind pid _ _ _ why; do
  case $kind in
    signal) printf 'SIGTERM to %s (%s): %s\n' "$pid" "$(cmdline_of "$pid")" "$why"; kill -TERM "$pid" 2>/dev/null ;;
    # A protected process that is already gone (a pipeline of the action's own) is not worth a line.
    skip) command=$(cmdline_of "$pid"); [ -z "$command" ] || printf 'not signalling %s (%s): %s\n' "$pid" "$command" "$why" ;;
  esac
done
printf 'stopped groups:%s\n' "$(printf '%s\n' "$scan" | awk '$1 == "group" { printf " %s", $2 }')"
printf '%s\n' "$scan" | grep -q '^signal ' || echo "nothing to stop: no process carries this target's marker, none was recorded, and process-match found none"`
  ])
}

export interface WaitParameters {
  target: string
  stateFile: string
  pattern: string
  groups: string[]
  ports: number[]
  timeoutSeconds: number
  killAfterTimeout: boolean
}

/**
 * Polls every 200 ms until none of the service's processes (found as the stop found them, plus the
 * groups it signalled) and no listener on the ports is left. After the timeout: SIGKILL (once,
 * then 5 s more) or fail naming what is left. Prints how long the exit took on success.
 */
export function waitForExitScript(parameters: WaitParameters): ShellCode {
  const { target, stateFile, pattern, groups, ports, timeoutSeconds, killAfterTimeout } = parameters
  return joinCode([
    SERVICE_FUNCTIONS,
    sh`pattern=${pattern}
groups=${groups.join(' ')}
ports=${ports.map(String).join(' ')}
begin=$(date +%s)
deadline=$((begin + ${timeoutSeconds}))
killed=
while :; do
  alive=$(service_scan ${target} ${stateFile} "$pattern" "$groups" '' | awk '$1 == "signal" { printf " %s", $2 }')
  held=; for port in $ports; do if port_held "$port"; then held="$held $port"; fi; done
  if [ -z "$alive$held" ]; then printf 'old service gone after %s s\n' "$(( $(date +%s) - begin ))"; exit 0; fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    if [ -z "$killed" ] && [ -n "$alive" ] && ${killAfterTimeout ? sh`true` : sh`false`}; then
      printf 'still running after %s s: SIGKILL to%s\n' ${timeoutSeconds} "$alive"
      for pid in $alive; do kill -KILL "$pid" 2>/dev/null; done
      killed=1
      deadline=$(($(date +%s) + 5))
    else
      for pid in $alive; do printf 'pid %s still running: %s\n' "$pid" "$(cmdline_of "$pid")" >&2; done
      for port in $held; do
        holders=$(port_holders "$port")
        printf 'port %s is still held by: %s\n' "$port" "\${holders:-a process this user cannot see}" >&2
      done
      exit 3
    fi
  fi
  sleep 0.2
done`
  ])
}

/** stop: the stop-command, then SIGTERM to every process of the service. */
export async function stopService(ctx: DeployContext): Promise<StoppedService> {
  const { settings, session, layout } = ctx
  const live = liveDir(ctx)
  const result = await session.remote.run(
    stopScript({
      target: layout.target,
      stateFile: layout.stateFile,
      pattern: settings.processMatch ?? '',
      stopCommand: settings.stopCommand
        ? { live, environment: exportEnvScript(ctx, live), command: settings.stopCommand }
        : undefined
    }),
    {
      phase: 'stop',
      timeoutSeconds: settings.stopTimeoutSeconds + 60,
      echo: true,
      allowFailure: true
    }
  )
  if (result.code === STOP_COMMAND_FAILED) {
    throw new Error(
      `stop-command exited with code ${/exited with code (\d+)/.exec(result.stderr)?.[1]}; last stderr:\n${lastLines(result.stderr, 20)}`
    )
  }
  if (result.code === PATTERN_TOO_BROAD) {
    throw new Error(
      `${result.stderr.trim()}\nprocess-match must match the service only (at most ${MAX_PATTERN_HITS} processes, of one user): ` +
        'narrow it, e.g. to the start command line of the parent (its process group is stopped with it), or remove it: ' +
        'the action finds what it started by the DEPLOY_TARGET marker.'
    )
  }
  if (result.code !== 0) {
    throw new Error(`stopping failed (exit ${result.code}): ${lastLines(result.stderr, 20)}`)
  }
  if (/before the first deploy; continuing/.test(result.stdout))
    core.warning('stop-command failed before the first deploy; continuing')
  const groups = (/^stopped groups:(.*)$/m.exec(result.stdout)?.[1] ?? '')
    .split(/\s+/)
    .filter(Boolean)
  return { mark: Number(/^stop began at boot tick (\d+)$/m.exec(result.stdout)?.[1] ?? 0), groups }
}

/** wait-for-exit: until the old service is really gone and its ports are free. */
export async function waitForExit(ctx: DeployContext, stopped: StoppedService): Promise<void> {
  const { settings, session, layout } = ctx
  const result = await session.remote.run(
    waitForExitScript({
      target: layout.target,
      stateFile: layout.stateFile,
      pattern: settings.processMatch ?? '',
      groups: stopped.groups,
      ports: settings.ports,
      timeoutSeconds: settings.stopTimeoutSeconds,
      killAfterTimeout: settings.killAfterTimeout
    }),
    {
      phase: 'wait-for-exit',
      timeoutSeconds: settings.stopTimeoutSeconds + 60,
      echo: true,
      allowFailure: true
    }
  )
  if (result.code === 0) return
  const what = result.stderr.trim() || `exit code ${result.code}`
  const afterKill = /SIGKILL/.test(result.stdout)
    ? ' nor 5 s after SIGKILL'
    : settings.killAfterTimeout
      ? ''
      : ' (kill-after-timeout is off)'
  throw new Error(
    `the old service did not go away within ${settings.stopTimeoutSeconds} s (stop-timeout)${afterKill}; nothing new was started.\n${what}`
  )
}

import * as core from '@actions/core'
import type { DeployContext } from '../context.js'
import { lastLines } from '../remote.js'
import { joinCode, sh, type ShellCode } from '../shell.js'
import { exportEnvScript } from './environment.js'
import { PROCESS_FUNCTIONS } from './processes.js'

/** The directory the service runs from now: `current` for releases, the target in place. */
export function liveDir(ctx: DeployContext): string {
  return ctx.settings.strategy === 'releases' ? ctx.layout.current : ctx.layout.target
}

/** Reads the recorded process group from state.json (empty when there is none). */
function recordedGroup(stateFile: string): ShellCode {
  return sh`recorded=$(sed -n 's/.*"pgid": *\([0-9][0-9]*\).*/\1/p' ${stateFile} 2>/dev/null)`
}

/**
 * Default stop: SIGTERM to the recorded process group and to every process matching the pattern
 * (read from stdin so this script's own command line never matches) and its process group, except
 * this script's own. Prints `waiting for process groups: …` for wait-for-exit to watch.
 */
export function stopScript(stateFile: string, needsPgrep: boolean): ShellCode {
  return joinCode([
    PROCESS_FUNCTIONS,
    sh`read -r pattern || true
${needsPgrep ? sh`command -v pgrep >/dev/null 2>&1 || { echo 'process-match needs pgrep on the host (package procps)' >&2; exit 1; }` : sh``}
own=$(pgid_of $$)
${recordedGroup(stateFile)}
groups=
if [ -n "$recorded" ] && group_alive "$recorded"; then
  printf 'SIGTERM to process group %s (started by the last deploy)\n' "$recorded"
  kill -TERM "-$recorded" 2>/dev/null
  groups=$recorded
fi
pids=
for pid in $(matching_pids); do
  group=$(pgid_of "$pid")
  printf 'SIGTERM to %s (%s), matched by process-match\n' "$pid" "$(cmdline_of "$pid")"
  kill -TERM "$pid" 2>/dev/null
  pids="$pids $pid"
  if [ -n "$group" ] && [ "$group" != "$own" ] && [ "$group" -gt 1 ]; then
    kill -TERM "-$group" 2>/dev/null
    groups="$groups $group"
  fi
done
if [ -n "$groups$pids" ]; then printf 'waiting for process groups:%s\n' "$groups"; else echo 'nothing to stop: no recorded process group and no process-match hit'; fi`
  ])
}

/**
 * Polls every 200 ms until no process of the stopped groups, none matching the pattern and no
 * listener on the ports is left. After the timeout: SIGKILL (once, then 5 s more) or fail listing
 * what is left. Prints how long the exit took on success.
 */
export function waitForExitScript(
  groups: string[],
  ports: number[],
  timeoutSeconds: number,
  killAfterTimeout: boolean
): ShellCode {
  return joinCode([
    PROCESS_FUNCTIONS,
    sh`read -r pattern || true
groups=${groups.join(' ')}
ports=${ports.map(String).join(' ')}
begin=$(date +%s)
deadline=$((begin + ${timeoutSeconds}))
killed=
while :; do
  alive=; for g in $groups; do if group_alive "$g"; then alive="$alive $g"; fi; done
  matched=$(matching_pids | tr '\n' ' ')
  held=; for p in $ports; do if port_held "$p"; then held="$held $p"; fi; done
  if [ -z "$alive$matched$held" ]; then printf 'old service gone after %s s\n' "$(( $(date +%s) - begin ))"; exit 0; fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    if [ -z "$killed" ] && [ -n "$alive$matched" ] && ${killAfterTimeout ? sh`true` : sh`false`}; then
      printf 'still running after %s s: SIGKILL to groups:%s pids: %s\n' ${timeoutSeconds} "$alive" "$matched"
      for g in $alive; do kill -KILL "-$g" 2>/dev/null; done
      for pid in $matched; do kill -KILL "$pid" 2>/dev/null; done
      killed=1
      deadline=$(($(date +%s) + 5))
    else
      for g in $alive; do printf 'process group %s is still running\n' "$g" >&2; done
      for pid in $matched; do printf 'pid %s still running: %s\n' "$pid" "$(cmdline_of "$pid")" >&2; done
      for p in $held; do
        holders=$(port_holders "$p")
        printf 'port %s is still held by: %s\n' "$p" "\${holders:-a process this user cannot see}" >&2
      done
      exit 3
    fi
  fi
  sleep 0.2
done`
  ])
}

export interface StoppedProcesses {
  groups: string[]
}

/** stop: the stop-command, or SIGTERM to what the last deploy started and what process-match finds. */
export async function stopService(ctx: DeployContext): Promise<StoppedProcesses> {
  const { settings, session, layout } = ctx
  const pattern = Buffer.from(`${settings.processMatch ?? ''}\n`)
  if (settings.stopCommand) {
    const live = liveDir(ctx)
    const result = await session.remote.run(
      sh`if [ -d ${live} ]; then cd -- ${live}; else cd -- ${layout.target} && echo 'no live tree yet'; fi || exit 1
${exportEnvScript(ctx, live)}
sh -c ${settings.stopCommand} < /dev/null`,
      {
        phase: 'stop',
        timeoutSeconds: settings.stopTimeoutSeconds + 60,
        echo: true,
        allowFailure: true
      }
    )
    const firstDeploy = result.stdout.startsWith('no live tree yet')
    if (result.code !== 0 && !firstDeploy) {
      throw new Error(
        `stop-command exited with code ${result.code}; last stderr:\n${lastLines(result.stderr, 20)}`
      )
    }
    if (result.code !== 0)
      core.warning(`stop-command failed (exit ${result.code}) before the first deploy; continuing`)
    else core.info(`Ran stop-command: ${settings.stopCommand}`)
  }
  // The recorded group and process-match are signalled after a stop-command too: it may leave children.
  const { stdout } = await session.remote.run(
    stopScript(layout.stateFile, Boolean(settings.processMatch)),
    {
      phase: 'stop',
      timeoutSeconds: 60,
      echo: true,
      stdin: pattern
    }
  )
  const groups = (/^waiting for process groups:(.*)$/m.exec(stdout)?.[1] ?? '')
    .split(/\s+/)
    .filter(Boolean)
  return { groups }
}

/** wait-for-exit: until the old service is really gone and its ports are free. */
export async function waitForExit(ctx: DeployContext, stopped: StoppedProcesses): Promise<void> {
  const { settings, session } = ctx
  const result = await session.remote.run(
    waitForExitScript(
      stopped.groups,
      settings.ports,
      settings.stopTimeoutSeconds,
      settings.killAfterTimeout
    ),
    {
      phase: 'wait-for-exit',
      timeoutSeconds: settings.stopTimeoutSeconds + 60,
      echo: true,
      allowFailure: true,
      stdin: Buffer.from(`${settings.processMatch ?? ''}\n`)
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

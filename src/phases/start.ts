import * as core from '@actions/core'
import type { DeployContext } from '../context.js'
import { joinCode, sh, type ShellCode } from '../shell.js'
import { exportEnvScript } from './environment.js'
import { SERVICE_FUNCTIONS } from './processes.js'
import { liveDir } from './stop.js'

/** Exit code of the start script when the start command failed within its first second. */
const FAILED_AT_ONCE = 4

const parentOf = (path: string): string => path.slice(0, path.lastIndexOf('/')) || '/'

export interface DetachedStart {
  live: string
  environment: ShellCode
  command: string
  log: string
  target: string
  stateFile: string
  release: string
  sha: string
}

/** Prints this start's lines of the log (from byte `firstByte`, counted from 1), at most 50. */
export function startLinesScript(log: string, firstByte: number | ShellCode): ShellCode {
  return sh`tail -c +${firstByte} -- ${log} 2>/dev/null | tail -n 50`
}

/**
 * Detached start: the command runs in a new session (its own process group), stdin from /dev/null
 * and output appended to the log, so nothing it leaves behind holds the SSH channel open. Watches
 * it for 1 s: still running, or exited 0 (it daemonized), is a start; a non-zero exit fails with
 * this start's log lines. Records what it started in state.json for a stop before verify.
 */
export function detachedStartScript(start: DetachedStart): ShellCode {
  const { live, environment, command, log, target, stateFile, release, sha } = start
  return joinCode([
    SERVICE_FUNCTIONS,
    sh`cd -- ${live} || exit 1
mkdir -p -- ${parentOf(log)} || exit 1
if [ -f ${log} ]; then offset=$(wc -c < ${log}); else offset=0; fi
offset=$((offset))
printf 'log-offset %s\n' "$offset"
printf '\n=== %s starting release %s (%s)\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" ${release} ${sha} >> ${log} || exit 1
(
${environment}
exec setsid sh -c ${command}
) < /dev/null >> ${log} 2>&1 &
launched=$!
waited=0; status=
while [ "$waited" -lt 10 ]; do
  state=$(sed 's/.*) //' "/proc/$launched/stat" 2>/dev/null | cut -c1)
  if [ -z "$state" ] || [ "$state" = Z ]; then wait "$launched"; status=$?; break; fi
  sleep 0.1; waited=$((waited + 1))
done
if [ -z "$status" ]; then
  printf 'running after 1 s as process group %s\n' "$launched"
elif [ "$status" -eq 0 ]; then
  echo 'the start command exited 0 within 1 s: it daemonized; verify finds the service by its marker'
else
  printf 'the start command exited with code %s within 1 s; its lines in %s:\n' "$status" ${log} >&2
  ${startLinesScript(log, sh`$((offset + 1))`)} >&2
  exit ${FAILED_AT_ONCE}
fi
service_scan ${target} ${stateFile} '' "$launched" '' | record_state ${stateFile} ${release} ${sha}`
  ])
}

/** `detach: false`: run the command as is (e.g. `systemctl start app`) and wait for it. */
export function foregroundStartScript(
  live: string,
  environment: ShellCode,
  command: string
): ShellCode {
  return sh`cd -- ${live} || exit 1
(
${environment}
sh -c ${command}
) < /dev/null`
}

export interface StartedService {
  /** Size of the start log before this start's header: its lines are what follows (detached only). */
  logOffset?: number
}

/** start: run start-command from the live tree. */
export async function startService(ctx: DeployContext): Promise<StartedService> {
  const { settings, session, layout } = ctx
  const live = liveDir(ctx)
  const environment = exportEnvScript(
    ctx,
    ctx.settings.strategy === 'releases' ? ctx.releaseDir : layout.target
  )
  if (!settings.detach) {
    await session.remote.run(foregroundStartScript(live, environment, settings.startCommand), {
      phase: 'start',
      timeoutSeconds: 600,
      echo: true
    })
    core.info(`Ran ${settings.startCommand} (detach: false)`)
    return {}
  }
  const result = await session.remote.run(
    detachedStartScript({
      live,
      environment,
      command: settings.startCommand,
      log: layout.startLog,
      target: layout.target,
      stateFile: layout.stateFile,
      release: ctx.release,
      sha: ctx.sha
    }),
    { phase: 'start', timeoutSeconds: 60, allowFailure: true }
  )
  if (result.code === FAILED_AT_ONCE) throw new Error(result.stderr.trim())
  if (result.code !== 0)
    throw new Error(`starting failed (exit ${result.code}): ${result.stderr.trim()}`)
  const logOffset = Number(/^log-offset (\d+)$/m.exec(result.stdout)?.[1] ?? 0)
  const running = /^running after 1 s as process group (\d+)$/m.exec(result.stdout)
  core.info(
    running
      ? `Started '${settings.startCommand}' in ${live} as process group ${running[1]}; output goes to ${layout.startLog}`
      : `'${settings.startCommand}' exited 0 within 1 s: it daemonized. Verify finds the service by its DEPLOY_TARGET marker; output goes to ${layout.startLog}`
  )
  return { logOffset }
}

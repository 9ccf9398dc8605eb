import * as core from '@actions/core'
import type { DeployContext } from '../context.js'
import { joinCode, sh, type ShellCode } from '../shell.js'
import { exportEnvScript } from './environment.js'
import { PROCESS_FUNCTIONS } from './processes.js'
import { liveDir } from './stop.js'

/** Exit code of the start script when the service died within its first second. */
const DIED_AT_ONCE = 4

const parentOf = (path: string): string => path.slice(0, path.lastIndexOf('/')) || '/'

/**
 * Detached start: the command runs in a new session (so its process group can be stopped whole
 * later), stdin from /dev/null and stdout/stderr appended to the log, so nothing it leaves behind
 * holds the SSH channel open. Records the group in state.json, then checks it is alive 1 s later.
 */
export function detachedStartScript(
  live: string,
  environment: ShellCode,
  command: string,
  log: string,
  stateFile: string,
  release: string,
  sha: string
): ShellCode {
  return joinCode([
    PROCESS_FUNCTIONS,
    sh`cd -- ${live} || exit 1
${environment}
mkdir -p -- ${parentOf(log)} || exit 1
started=$(mktemp) || exit 1
printf '\n=== %s starting release %s (%s)\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" ${release} ${sha} >> ${log}
setsid sh -c 'echo $$ > "$1"; shift; exec sh -c "$1"' verified-ssh-deploy-start "$started" ${command} < /dev/null >> ${log} 2>&1 &
waited=0
while [ ! -s "$started" ] && [ "$waited" -lt 50 ]; do sleep 0.1; waited=$((waited + 1)); done
pgid=$(cat "$started"); rm -f -- "$started"
if [ -z "$pgid" ]; then echo 'the start command did not launch (is setsid working?)' >&2; exit 1; fi
printf '{"pgid": %s, "release": "%s", "sha": "%s", "started": "%s"}\n' "$pgid" ${release} ${sha} "$(date -u +%Y-%m-%dT%H:%M:%SZ)" > ${`${stateFile}.tmp`} && mv -f -- ${`${stateFile}.tmp`} ${stateFile} || exit 1
printf 'pgid %s\n' "$pgid"
sleep 1
if ! group_alive "$pgid"; then
  printf 'the service exited within 1 s of starting; last lines of %s:\n' ${log} >&2
  tail -n 50 -- ${log} >&2
  exit ${DIED_AT_ONCE}
fi`
  ])
}

/** `detach: false`: run the command as is (e.g. `systemctl start app`) and wait for it. */
export function foregroundStartScript(
  live: string,
  environment: ShellCode,
  command: string
): ShellCode {
  return sh`cd -- ${live} || exit 1
${environment}
sh -c ${command} < /dev/null`
}

/** start: run start-command from the live tree. */
export async function startService(ctx: DeployContext): Promise<void> {
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
    return
  }
  const result = await session.remote.run(
    detachedStartScript(
      live,
      environment,
      settings.startCommand,
      layout.startLog,
      layout.stateFile,
      ctx.release,
      ctx.sha
    ),
    { phase: 'start', timeoutSeconds: 60, allowFailure: true }
  )
  if (result.code === DIED_AT_ONCE) throw new Error(result.stderr.trim())
  if (result.code !== 0)
    throw new Error(`starting failed (exit ${result.code}): ${result.stderr.trim()}`)
  const pgid = /^pgid (\d+)$/m.exec(result.stdout)?.[1]
  core.info(
    `Started '${settings.startCommand}' in ${live} as process group ${pgid}; output goes to ${layout.startLog}`
  )
}

import type { DeployContext } from '../context.js'
import { insideTarget, parentOf } from '../layout.js'
import type { PhaseOutput } from '../host-step.js'
import { sh, type ShellCode } from '../shell.js'
import { exportEnvScript, userCommandScript } from './environment.js'
import { liveDir } from './stop.js'
import { EXIT, STEP_KEY } from '../protocol.js'

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

/** Prints this start's lines of the log: the last 50 after its header line. */
export function startLinesScript(log: string, header: string | ShellCode): ShellCode {
  return sh`awk -v header=${header} '$0 == header { n = 0; next } { line[n++ % 50] = $0 } END { for (i = (n > 50 ? n - 50 : 0); i < n; i++) print line[i % 50] }' < ${log} 2>/dev/null`
}

/**
 * Detached start, a host-step body: the command runs in a new session (its own process group),
 * stdin from /dev/null and output appended to the log, so nothing it leaves behind holds the SSH
 * channel open. Watches it for 1 s: still running, or exited 0 (it daemonized), is a start; a
 * non-zero exit fails with this start's log lines. Records what it started in state.json for a
 * stop before verify.
 */
export function detachedStartBody(start: DetachedStart): ShellCode {
  const { live, environment, command, target, release, sha } = start
  // Commands name the target's files relative to it (the restart step runs there); messages in full.
  const log = insideTarget(target, start.log)
  const stateFile = insideTarget(target, start.stateFile)
  // The log is opened here, in the step's directory, before the command's shell moves to `live`.
  return sh`[ -d ${parentOf(log)} ] || mkdir -p -- ${parentOf(log)} || exit 1
header="=== $(date -u +%Y-%m-%dT%H:%M:%SZ) starting release "${release}" ("${sha}") [$$]"
printf '\n%s\n' "$header" 2>/dev/null >> ${log} || printf 'could not write to %s (the disk may be full)\n' ${start.log}
(
cd -- ${live} || exit 1
${environment}
${userCommandScript(command, sh`exec setsid`)}
) < /dev/null >> ${log} 2>&1 &
launched=$!
waited=0; status=
while [ "$waited" -lt 10 ]; do
  if ! process_alive "$launched"; then wait "$launched"; status=$?; break; fi
  sleep 0.1; waited=$((waited + 1))
done
if [ -z "$status" ]; then
  printf 'Started %s as process group %s; output goes to %s\n' ${`'${command}'`} "$launched" ${start.log}
elif [ "$status" -eq 0 ]; then
  printf '%s exited 0 within 1 s: it daemonized. Verify finds the service by its DEPLOY_TARGET marker; output goes to %s\n' ${`'${command}'`} ${start.log}
else
  printf '@@%s error the start command exited with code %s within 1 s; its lines in %s:\n' ${STEP_KEY} "$status" ${start.log}
  ${startLinesScript(log, sh`"$header"`)} | sed "s/^/@@$step_key error /"
  exit ${EXIT.startFailed}
fi
printf '@@%s data header %s\n' ${STEP_KEY} "$header"
service_scan ${target} '' '' "$launched" '' | record_state ${stateFile} ${release} ${sha}`
}

/** `detach: false`, a host-step body: run the command as is (e.g. `systemctl start app`) and wait for it. */
export function foregroundStartBody(
  live: string,
  environment: ShellCode,
  command: string
): ShellCode {
  return sh`cd -- ${live} || exit 1
(
${environment}
${userCommandScript(command)}
) < /dev/null 2>&1
status=$?
if [ "$status" -ne 0 ]; then
  printf '@@%s error start-command exited with code %s (detach: false); its output is above in the log\n' ${STEP_KEY} "$status"
  exit ${EXIT.startFailed}
fi
printf 'Ran %s (detach: false)\n' ${`'${command}'`}`
}

/** The start body for this deploy: detached or in the foreground, from the live tree. */
export function startBody(ctx: DeployContext): ShellCode {
  const { settings, layout } = ctx
  const live = liveDir(ctx)
  const environment = exportEnvScript(
    ctx,
    settings.strategy === 'releases' ? ctx.releaseDir : layout.target
  )
  if (!settings.detach) return foregroundStartBody(live, environment, settings.startCommand)
  return detachedStartBody({
    live,
    environment,
    command: settings.startCommand,
    log: layout.startLog,
    target: layout.target,
    stateFile: layout.stateFile,
    release: ctx.release,
    sha: ctx.sha
  })
}

export interface StartedService {
  /** The start log's line that begins this start's lines (detached only). */
  logHeader?: string
}

/** What the start body reported. */
export function startedService(output: PhaseOutput | undefined): StartedService {
  return { logHeader: output?.data.header }
}

import type { DeployContext } from '../model/context.js'
import { insideTarget, parentOf } from '../remote/layout.js'
import type { PhaseOutput } from '../remote/host-step.js'
import START_SCRIPT from '../host/start.sh'
import { joinCode, sh, withInputs, type ShellCode } from '../remote/shell.js'
import { exportEnvScript, userCommandScript } from './environment.js'
import { holdBody, withFdsLauncher } from './hold.js'
import { liveDir } from './stop.js'
import { EXIT, STEP_KEY } from '../remote/protocol.js'
import { strategyOf } from '../model/strategy.js'

export interface DetachedStart {
  /** What the command's shell runs under (default `exec setsid`; hold-ports: with-fds.py). */
  launcher?: ShellCode
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
  return sh`awk -v header=${header} '$0 == header { n = 0; next } { line[n++ % 50] = $0 } END { for (i = (n > 50 ? n - 50 : 0); i < n; i++) print line[i % 50] }' 2>/dev/null < ${log}`
}

/**
 * Detached start, a host-step body (start.sh): the command in a new session, watched for 1 s, and
 * what it started recorded in state.json. The command, with its environment, is the function
 * `start_command` the file calls.
 */
export function detachedStartBody(start: DetachedStart): ShellCode {
  const { live, environment, command, target, release, sha } = start
  // Commands name the target's files relative to it (the restart step runs there); messages in full.
  const log = insideTarget(target, start.log)
  return joinCode([
    sh`start_command() {
${environment}
${userCommandScript(command, start.launcher ?? sh`exec setsid`)}
}
start_lines() { ${startLinesScript(log, sh`"$1"`)}; }`,
    withInputs(START_SCRIPT, {
      start_log: log,
      start_log_dir: parentOf(log),
      start_log_shown: start.log,
      start_live: live,
      start_shown: `'${command}'`,
      start_release: release,
      start_sha: sha,
      start_target: target,
      start_state: insideTarget(target, start.stateFile),
      start_failed: EXIT.startFailed
    })
  ])
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

/**
 * The start body for this deploy: the port holder's part (hold-ports, or stopping a holder left
 * from before), then the command, detached or in the foreground, from the live tree.
 */
export function startBody(ctx: DeployContext): ShellCode {
  const { settings, layout } = ctx
  const live = liveDir(ctx)
  const environment = exportEnvScript(ctx, strategyOf(settings).keptDir(layout, ctx.release))
  const start = settings.detach
    ? detachedStartBody({
        launcher: settings.holdPorts ? withFdsLauncher(settings, layout) : undefined,
        live,
        environment,
        command: settings.startCommand,
        log: layout.startLog,
        target: layout.target,
        stateFile: layout.stateFile,
        release: ctx.release,
        sha: ctx.sha
      })
    : foregroundStartBody(live, environment, settings.startCommand)
  return joinCode([holdBody(ctx), start])
}

export interface StartedService {
  /** The start log's line that begins this start's lines (detached only). */
  logHeader?: string
  /** The started process was still running after the start's first second (detached only). */
  running?: boolean
}

/** What the start body reported. */
export function startedService(output: PhaseOutput | undefined): StartedService {
  return { logHeader: output?.data.header, running: output?.data.running !== undefined }
}

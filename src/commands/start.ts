import type { DeployContext } from '../model/context.js'
import { insideTarget, parentOf } from '../remote/layout.js'
import type { PhaseOutput } from '../remote/host-step.js'
import START_SCRIPT from '../host/restart/start.sh'
import { joinCode, sh, withInputs, type ShellCode } from '../remote/shell.js'
import { exportEnvScript, userCommandInputs, type UserCommand } from './environment.js'
import START_FOREGROUND_SCRIPT from '../host/restart/start-foreground.sh'
import { holdBody, withFdsLauncher } from './hold.js'
import { liveDir } from './stop.js'
import { EXIT } from '../remote/protocol.js'
import { strategyOf } from '../model/strategy.js'

export interface DetachedStart extends UserCommand {
  /** What the command's shell runs under (default `setsid`; hold-ports: with-fds.py, withFdsLauncher). */
  launcher?: ShellCode
  live: string
  log: string
  target: string
  stateFile: string
  release: string
  sha: string
}

/**
 * Detached start, a host-step body (start.sh): the command in a new session, watched for 1 s, and
 * what it started recorded in state.json.
 */
export function detachedStartBody(start: DetachedStart): ShellCode {
  const { live, command, target, release, sha } = start
  // Commands name the target's files relative to it (the restart step runs there); messages in full.
  const log = insideTarget(target, start.log)
  return withInputs(START_SCRIPT, {
    ...userCommandInputs('start', start),
    start_launcher: (start.launcher ?? sh`setsid`).text,
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
}

/**
 * `detach: false`, a host-step body (start-foreground.sh): run the command as is (e.g. `systemctl
 * start app`) and wait for it.
 */
export function foregroundStartBody(live: string, user: UserCommand): ShellCode {
  return withInputs(START_FOREGROUND_SCRIPT, {
    ...userCommandInputs('start', user),
    start_live: live,
    start_shown: `'${user.command}'`,
    start_failed: EXIT.startFailed
  })
}

/**
 * The start body for this deploy: the port holder's part (hold-ports, or stopping a holder left
 * from before), then the command, detached or in the foreground, from the live tree.
 */
export function startBody(ctx: DeployContext): ShellCode {
  const { settings, layout } = ctx
  const live = liveDir(ctx)
  const environment = exportEnvScript(ctx, strategyOf(settings).keptDir(layout, ctx.release))
  // hold-ports: the wrapper's program and socket go in the command's environment; it pops both.
  const wrapper = settings.holdPorts ? withFdsLauncher(settings, layout) : undefined
  const start = settings.detach
    ? detachedStartBody({
        launcher: wrapper?.launcher,
        live,
        environment: wrapper ? joinCode([environment, wrapper.environment]) : environment,
        command: settings.startCommand,
        log: layout.startLog,
        target: layout.target,
        stateFile: layout.stateFile,
        release: ctx.release,
        sha: ctx.sha
      })
    : foregroundStartBody(live, { environment, command: settings.startCommand })
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

import * as core from '@actions/core'
import type { DeployContext } from '../context.js'
import { runHostStep, type HostStepPhase } from '../host-step.js'
import { PhaseError, type PhaseName, type PhaseTiming } from '../phase.js'
import { sh, type ShellCode } from '../shell.js'
import { SERVICE_FUNCTIONS } from './processes.js'
import { startBody, startedService, type StartedService } from './start.js'
import {
  stopBodyFor,
  stopFailure,
  stoppedService,
  waitFailure,
  waitForExitBody,
  waitParameters,
  type StoppedService
} from './stop.js'

/** A restart under way on a host, as saved for the post step. */
export interface RunningRestart {
  host: string
  port: number
  username: string
  outFile: string
}

const running: RunningRestart[] = []

/** Keeps the `restarts` state current, so the post step can read what an interrupted run left. */
function trackRestart(entry: RunningRestart, active: boolean): void {
  const index = running.findIndex(
    other => other.outFile === entry.outFile && other.host === entry.host
  )
  if (active && index < 0) running.push(entry)
  if (!active && index >= 0) running.splice(index, 1)
  core.saveState('restarts', JSON.stringify(running))
}

/** The stop and start a verify follows. */
export interface Restart {
  stopped: StoppedService
  started: StartedService
}

/**
 * stop → wait-for-exit → switch → start as one detached host step (see host-step.ts): no network
 * round trip between the old service's SIGTERM and the new one's launch, and the host finishes the
 * step even if the connection drops or the job is cancelled. Without `switchTo`, it only stops
 * (a rollback with nothing to return to). With `timings`, each phase is its own log group.
 */
export async function restartService(
  ctx: DeployContext,
  switchTo: ShellCode | undefined,
  timings?: PhaseTiming[]
): Promise<Restart> {
  const { settings, session, layout, label } = ctx
  const phases: HostStepPhase[] = [
    { phase: 'stop', body: stopBodyFor(ctx) },
    { phase: 'wait-for-exit', body: waitForExitBody(waitParameters(ctx)) }
  ]
  if (switchTo) {
    // The post step tells this step's output from an earlier restart's by the release it names.
    const switching = sh`printf '@@data release %s\n' ${ctx.release}
${switchTo}`
    phases.push({ phase: 'switch', body: switching }, { phase: 'start', body: startBody(ctx) })
  }
  const entry: RunningRestart = {
    host: session.address.host,
    port: session.address.port,
    username: session.address.username,
    outFile: layout.restartLog
  }
  const sentAt = Date.now()
  const result = await runHostStep(phases, SERVICE_FUNCTIONS, {
    label,
    remote: session.remote,
    outFile: entry.outFile,
    timeoutSeconds: 2 * settings.stopTimeoutSeconds + 5 + 1800 + 180,
    timings,
    onStarted: () => trackRestart(entry, true)
  }).finally(() => trackRestart(entry, false))
  const output = (phase: PhaseName) => result.outputs.get(phase)
  if (result.code !== 0) {
    const failed = output(result.lastPhase)
    const detail =
      result.lastPhase === 'stop'
        ? stopFailure(result.code, failed)
        : result.lastPhase === 'wait-for-exit'
          ? waitFailure(settings, failed)
          : result.lastPhase === 'start'
            ? (failed?.errors.join('\n') ?? `starting failed (exit ${result.code})`)
            : `failed (exit ${result.code}) in ${layout.target}: ${[...(failed?.errors ?? []), ...(failed?.lines.slice(-10) ?? [])].join('\n')}`
    throw new PhaseError(label, result.lastPhase, detail)
  }
  return {
    stopped: stoppedService(output('stop'), sentAt),
    started: startedService(output('start'))
  }
}

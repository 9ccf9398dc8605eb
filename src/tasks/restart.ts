import { constants } from 'node:os'
import type { DeployContext } from '../model/context.js'
import { phaseBudgets } from '../model/budgets.js'
import { HostStepUnknown, runHostStep, type HostStepResult } from '../remote/host-step.js'
import { errorText, PhaseError, type PhaseName, type PhaseTiming } from '../model/phase.js'
import { dropForPostStep, keepForPostStep, type RunningRestart } from '../model/post-state.js'
import type { ShellCode } from '../remote/shell.js'
import { reconnect } from './connect.js'
import { startedService, type StartedService } from '../commands/start.js'
import { goneAt } from '../commands/stop.js'
import { stopFailure, stoppedService, waitFailure, type StoppedService } from './stop.js'
import { answerOf, answersOf, EXIT } from '../remote/protocol.js'
import { sudoHint } from './sudo.js'
import { COMMAND_SECONDS } from '../model/budgets.js'
import { strategyOf } from '../model/strategy.js'
import {
  holderReadyScript,
  hostNowScript,
  restartPrelude,
  restartPhases,
  STAY,
  type StepShape
} from '../commands/restart.js'

/**
 * The restart's host step was killed before it finished (a stop-command that matches the action's
 * own processes, `kill -9 -1`): what serves is no known state, so the deploy rolls back.
 */
export class HostStepDied extends HostStepUnknown {}

/**
 * Overlap: the step that starts the new release beside the old one failed (its start, or the
 * switch). The old service was never stopped; `restart` says what to withdraw (its mark).
 */
export class OverlapFailed extends PhaseError {
  constructor(
    label: string,
    phase: PhaseName,
    detail: string,
    readonly restart: Restart
  ) {
    super(label, phase, detail)
  }
}

/** The host as it is now, in words, for the message about a killed host step; and its boot id. */
async function describeHostNow(ctx: DeployContext): Promise<string> {
  return (await hostNow(ctx)).text
}

async function hostNow(ctx: DeployContext): Promise<{ text: string; boot?: string }> {
  const { settings, session, layout } = ctx
  try {
    await reconnect(session, settings, 'stop')
    const { stdout } = await session.remote.run(hostNowScript(layout, settings.ports), {
      phase: 'stop',
      timeoutSeconds: COMMAND_SECONDS.quick
    })
    const boot = answerOf(stdout, 'boot') || undefined
    const current = answerOf(stdout, 'current') || undefined
    const ports = answersOf(stdout, 'port').map(line => {
      const [, port, holders] = /^(\d+) ?(.*)$/.exec(line) ?? []
      return holders
        ? `port ${port} is held by ${holders.replace(/;$/, '').replace(/;/g, '; ')}`
        : `nothing listens on port ${port}`
    })
    const parts = [
      ...(strategyOf(settings).keepsReleases ? [`current -> ${current ?? '(none)'}`] : []),
      ...ports
    ]
    return {
      text: parts.length > 0 ? parts.join('; ') : 'no ports are set to check (ports)',
      boot
    }
  } catch (error) {
    return { text: `could not be read: ${errorText(error)}` }
  }
}

/** The failure of a host step that something killed, in words. */
async function diedFailure(
  ctx: DeployContext,
  result: HostStepResult,
  died: NonNullable<HostStepResult['died']>
): Promise<string> {
  const { settings, layout } = ctx
  const signal =
    died.status !== undefined && died.status > 128
      ? Object.entries(constants.signals).find(([, number]) => number === died.status! - 128)?.[0]
      : undefined
  const command =
    result.lastPhase === 'start'
      ? settings.startCommand && 'the start-command'
      : result.lastPhase === 'stop'
        ? settings.stopCommand && 'the stop-command'
        : undefined
  const now = await hostNow(ctx)
  const stepBoot = result.outputs.get('stop')?.data.boot
  // A reboot ends every process: the first thing to say, before any command is suspected.
  if (stepBoot && now.boot && stepBoot !== now.boot)
    return (
      `the host rebooted during ${result.lastPhase} (its boot id changed), so the action's own host step ended before it finished. ` +
      `On the host now: ${now.text}. The step's output is in ${layout.restartLog}.`
    )
  const cause = command
    ? `${command[0].toUpperCase()}${command.slice(1)} is the likely cause: it matches the action's own processes as well as the service's (e.g. pkill -f sh, kill -9 -1, pkill -u USER). A stop-command only needs to stop what the action cannot find itself: it already stops every process carrying DEPLOY_TARGET=${layout.target}, and process-match finds a service started elsewhere.`
    : 'Something on the host killed it (kill -9 -1, the OOM killer).'
  return (
    `the action's own host step${died.pid ? ` (PID ${died.pid})` : ''} was killed${signal ? ` by ${signal}` : ''} during ${result.lastPhase}, before it finished. ${cause} ` +
    `On the host now: ${now.text}. The step's output is in ${layout.restartLog}.`
  )
}

/** The stop and start a verify follows. */
export interface Restart {
  stopped: StoppedService
  started: StartedService
  /**
   * Overlap (README, "Overlap"): the new release was started beside the old one, which serves
   * until it is retired; `retired` once it was. Verify asks for the new one's answer and ports
   * before the retirement, and everything as usual after it.
   */
  overlap?: { retired: boolean }
}

/** The old service still serves beside the new one: verify's first pass, before the retirement. */
export const bothServe = (restart: Restart): boolean =>
  restart.overlap !== undefined && !restart.overlap.retired

/**
 * How a restart makes its release live: a deploy switches to its new release, a rollback back to
 * a kept one (releases.log says which), a restart keeps the live one (STAY).
 */
export type RestartKind = 'deploy' | 'rollback' | 'restart'

/**
 * stop → wait-for-exit → switch → start as one detached host step (see host-step.ts): no network
 * round trip between the old service's SIGTERM and the new one's launch, and the host finishes the
 * step even if the connection drops or the job is cancelled. Without `switchTo`, it only stops
 * (a rollback with nothing to return to). With `timings`, each phase is its own log group.
 */
export async function restartService(
  ctx: DeployContext,
  switchTo: ShellCode | typeof STAY | undefined,
  timings?: PhaseTiming[],
  beforeStart?: ShellCode,
  step: StepShape = { shape: 'restart' }
): Promise<Restart> {
  const { settings, session, layout, label } = ctx
  const phases = restartPhases(ctx, switchTo, beforeStart, step)
  const entry: RunningRestart = {
    host: session.address.host,
    port: session.address.port,
    username: session.address.username,
    outFile: layout.restartLog
  }
  const result = await runHostStep(phases, restartPrelude(layout), {
    label,
    remote: session.remote,
    outFile: entry.outFile,
    timeoutSeconds: phaseBudgets(settings).restart,
    timings,
    onStarted: () => keepForPostStep('restarts', entry),
    reattach: async () => {
      await reconnect(session, settings, 'stop')
      return session.remote
    }
  }).finally(() => dropForPostStep('restarts', entry))
  const output = (phase: PhaseName) => result.outputs.get(phase)
  if (result.unread) {
    throw new HostStepUnknown(
      label,
      result.lastPhase,
      `the outcome of the action's own host step is unknown: ${result.unread}. On the host now: ${await describeHostNow(ctx)}. ` +
        `Its output is in ${layout.restartLog}.`
    )
  }
  if (result.died) {
    throw new HostStepDied(label, result.lastPhase, await diedFailure(ctx, result, result.died))
  }
  if (result.code !== 0) {
    const failed = output(result.lastPhase)
    const detail =
      result.code === EXIT.lockLost
        ? (failed?.errors.join('\n') ?? "the deploy lock is no longer this run's")
        : result.lastPhase === 'stop'
          ? stopFailure(result.code, failed)
          : result.lastPhase === 'wait-for-exit'
            ? waitFailure(settings, failed)
            : result.lastPhase === 'start'
              ? (failed?.errors.join('\n') ?? `starting failed (exit ${result.code})`) +
                sudoHint(
                  [...(failed?.errors ?? []), ...(failed?.lines ?? [])].join('\n'),
                  settings.startCommand,
                  session.address.username
                )
              : `failed (exit ${result.code}) in ${layout.target}: ${[...(failed?.errors ?? []), ...(failed?.lines.slice(-10) ?? [])].join('\n')}`
    const mark = Number(output(phases[0].phase)?.data.mark ?? 0)
    if (step.shape === 'overlap' && mark > 0 && result.code !== EXIT.lockLost)
      throw new OverlapFailed(label, result.lastPhase, detail, {
        stopped: { mark },
        started: startedService(output('start')),
        overlap: { retired: false }
      })
    throw new PhaseError(label, result.lastPhase, detail)
  }
  const stopped = stoppedService(output('stop'), settings.stopCommand, session.address.username)
  return {
    stopped: {
      // Overlap marks its start before the switch: nothing was stopped yet.
      mark:
        step.shape === 'overlap' ? Number(output(phases[0].phase)?.data.mark ?? 0) : stopped.mark,
      gone: goneAt(output('wait-for-exit'))
    },
    started: startedService(output('start')),
    ...(step.shape === 'overlap' && { overlap: { retired: false } })
  }
}

/**
 * Overlap: is the port holder running and holding every port, so the new release can start on
 * its sockets beside the old service? Not on the first deploy with hold-ports, whose restart then
 * stops the old service first.
 */
export async function holderReady(ctx: DeployContext): Promise<boolean> {
  const { session, settings, layout } = ctx
  const { stdout } = await session.remote.run(holderReadyScript(layout, settings.listen), {
    phase: 'stop',
    timeoutSeconds: COMMAND_SECONDS.quick
  })
  return answerOf(stdout, 'holder') === 'ready'
}

/**
 * Overlap, once the new release answered and holds every port: the old service's stop (its
 * stop-command, SIGTERM to its processes, the new ones spared) and wait-for-exit, as one host step.
 */
export async function retireService(
  ctx: DeployContext,
  restart: Restart,
  timings?: PhaseTiming[]
): Promise<Restart> {
  const { mark } = restart.stopped
  const retired = await restartService(ctx, undefined, timings, undefined, {
    shape: 'retire',
    keep: { instance: 'new', mark }
  })
  return {
    ...restart,
    stopped: { mark, gone: retired.stopped.gone },
    overlap: { retired: true }
  }
}

/**
 * Overlap, when the new release failed before the old service was retired: the new release's
 * processes stop (the old ones spared, no stop-command) and `switchBack` makes the old release
 * live again. The old service was never stopped.
 */
export async function withdrawService(
  ctx: DeployContext,
  restart: Restart,
  switchBack: ShellCode | undefined
): Promise<void> {
  await restartService(ctx, switchBack, undefined, undefined, {
    shape: 'withdraw',
    keep: { instance: 'old', mark: restart.stopped.mark }
  })
}

import type { DeployContext } from '../model/context.js'
import { type HostStepPhase } from '../remote/host-step.js'
import { FIRST_ANSWER_FILE, relativeToTarget, type RemoteLayout } from '../remote/layout.js'
import { joinCode, sh, withInputs, type ShellCode } from '../remote/shell.js'
import { lockFenceScript } from './lock.js'
import { hostLibrary } from '../remote/host-library.js'
import { startBody } from './start.js'
import { holderDir } from './hold.js'
import { stopBodyFor, waitForExitBody, waitParameters, type Keep } from './stop.js'
import FIRST_ANSWER_CODE from '../host/restart/first-answer.py'
import HOST_NOW_SCRIPT from '../host/restart/host-now.sh'
import { STEP_KEY } from '../remote/protocol.js'
import { HOST_STEP_PHASES } from '../model/pipeline.js'

/** Where `current` points (releases) and who holds each service port, one `port N …` line each. */
export function hostNowScript(layout: RemoteLayout, ports: number[]): ShellCode {
  return joinCode([
    hostLibrary(),
    withInputs(HOST_NOW_SCRIPT, { now_target: layout.target, now_ports: ports })
  ])
}

/**
 * Launched first in the start phase, in the background: first-answer.py asks version-url from the
 * host every 10 ms and writes when the new service first answered. Its code and the URL go in its
 * environment; a host without the Python the deploy names skips it (downtime is then measured
 * from the runner).
 */
export function firstAnswerScript(ctx: DeployContext): ShellCode {
  const { settings } = ctx
  const seconds = settings.versionTimeoutSeconds + settings.stableForSeconds
  return sh`rm -f -- ${FIRST_ANSWER_FILE}
VSD_ANSWER_CODE=${FIRST_ANSWER_CODE} VSD_ANSWER_URL=${settings.versionUrl.href} VSD_ANSWER_FILE=${FIRST_ANSWER_FILE} VSD_ANSWER_SECONDS=${seconds} \
  ${settings.python} -S -c 'import os; exec(os.environ["VSD_ANSWER_CODE"])' < /dev/null > /dev/null 2>&1 &`
}

/** A restart that keeps the live release: stop, wait-for-exit and start, with no switch. */
export const STAY = 'stay'

/**
 * What a restart step does (README, "Overlap"): `restart`, all four phases; `overlap`, the switch and
 * the start beside the old service, which still serves; `retire`, the old service's stop and
 * wait-for-exit once the new one answered; `withdraw`, a failed new one's stop and wait-for-exit,
 * and the switch back, the old service untouched.
 */
export type StepShape =
  { shape: 'restart' | 'overlap' } | { shape: 'retire' | 'withdraw'; keep: Keep }

/**
 * The restart's phases: stop (behind the lock fence) → wait-for-exit → switch → start. Without
 * `switchTo`, only the first two (a rollback with nothing to return to); with STAY, no switch
 * (operation restart). `beforeStart` runs first in the start phase, right after the switch (the
 * watchdog's launch: from then on the host itself ends what it started, a start that fails
 * included, should the runner be gone). `step` shapes it for overlap (StepShape).
 */
export function restartPhases(
  ctx: DeployContext,
  switchTo: ShellCode | typeof STAY | undefined,
  beforeStart?: ShellCode,
  step: StepShape = { shape: 'restart' }
): HostStepPhase[] {
  const { layout } = ctx
  const fence = lockFenceScript(layout, ctx.lockToken)
  // The post step tells this step's output from an earlier restart's by the release it names.
  const named = sh`printf '@@%s data release %s\n' ${STEP_KEY} ${ctx.release}`
  const starts = step.shape === 'restart' || step.shape === 'overlap'
  const start =
    starts &&
    switchTo &&
    joinCode([...(beforeStart ? [beforeStart] : []), firstAnswerScript(ctx), startBody(ctx)])
  // Overlap starts with nothing stopped: the fence and the mark (what starts later is new) lead.
  const lead =
    step.shape === 'overlap'
      ? [fence, sh`printf '@@%s data mark %s\n' ${STEP_KEY} "$(start_of $$)"`]
      : []
  const stops = step.shape !== 'overlap'
  const keep = 'keep' in step ? step.keep : undefined
  const switchBody =
    switchTo && switchTo !== STAY && step.shape !== 'retire'
      ? joinCode([...lead, named, switchTo])
      : undefined
  const bodies: Record<(typeof HOST_STEP_PHASES)[number], ShellCode | undefined> = {
    // Retiring names the release too: the post step tells its output from an earlier step's.
    stop: stops
      ? joinCode([fence, ...(step.shape === 'retire' ? [named] : []), stopBodyFor(ctx, keep)])
      : undefined,
    'wait-for-exit': stops ? waitForExitBody(waitParameters(ctx)) : undefined,
    switch: switchBody,
    start: start && !switchBody ? joinCode([...lead, named, start]) : start || undefined
  }
  return HOST_STEP_PHASES.flatMap(phase => {
    const body = bodies[phase]
    return body ? [{ phase, body }] : []
  })
}

/** Prints `holder ready` when the port holder runs and holds `listen` (holder_holds, library.sh). */
export function holderReadyScript(layout: RemoteLayout, listen: string[]): ShellCode {
  const holder = holderDir(relativeToTarget(layout))
  return joinCode([
    hostLibrary(),
    sh`cd -- ${layout.target} || exit 1
if holder_holds ${holder} ${listen.join(' ')} ${layout.target}; then echo 'holder ready'; else echo 'holder absent'; fi`
  ])
}

/** What every restart step runs first, after the host library (hostStepScript): `cd` to the target. */
export function restartPrelude(layout: RemoteLayout): ShellCode {
  // Every body names the target's files relative to it (relativeToTarget): the step runs from there.
  return sh`cd -- ${layout.target} || exit 1`
}

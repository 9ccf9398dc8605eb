import * as core from '@actions/core'
import type { DeployContext } from '../model/context.js'
import { relativeToTarget, type RemoteLayout } from '../remote/layout.js'
import { hostLibrary } from '../remote/host-library.js'
import { PhaseError } from '../model/phase.js'
import type { Remote } from '../remote/remote.js'
import { joinCode, MAX_ENVIRONMENT_SCRIPT, sh } from '../remote/shell.js'
import { reconnect } from './connect.js'
import { fallbackScript, parseFallback } from '../commands/fallback.js'
import { answerOf } from '../remote/protocol.js'
import { COMMAND_SECONDS } from '../model/budgets.js'
import { info } from '../report/host-text.js'
import { strategyOf } from '../model/strategy.js'
import {
  watchdogScript,
  watchdogBudgetSeconds,
  armScript,
  decideScript,
  HostUndo,
  readHostUndo
} from '../commands/watchdog.js'

/**
 * Before the restart: finds the release the host would return to and leaves the watchdog armed in
 * the lock. Nothing is armed when the run would not roll back (rollback-on-failure: false, in
 * place) or there is no verified release; a host that cannot take it gets a warning, and the
 * deploy goes on as before.
 */
export async function armWatchdog(ctx: DeployContext): Promise<boolean> {
  const { settings, session, layout, label } = ctx
  if (!strategyOf(settings).keepsReleases || !settings.rollbackOnFailure) return false
  const found = await session.remote.run(
    sh`cd -- ${layout.target} || exit 1
${fallbackScript(ctx.release, ctx.previousRelease, settings.stampFile)}`,
    { phase: 'prepare', timeoutSeconds: COMMAND_SECONDS.quick }
  )
  const fallback = parseFallback(found.stdout)
  if (!fallback) return false
  const script = watchdogScript(ctx, fallback)
  if (Buffer.byteLength(script.text) > MAX_ENVIRONMENT_SCRIPT) {
    core.warning(
      `The host's watchdog for ${label} was not armed: its script (${Buffer.byteLength(script.text)} bytes) is over ${MAX_ENVIRONMENT_SCRIPT} bytes (a long start-, stop-command or env). Should the runner die during the restart, the next deploy rolls back.`
    )
    return false
  }
  const armed = await session.remote.run(armScript(ctx, fallback), {
    phase: 'prepare',
    timeoutSeconds: COMMAND_SECONDS.quick,
    stdin: Buffer.from(script.text),
    allowFailure: true
  })
  if (armed.code !== 0) {
    core.warning(
      `The host's watchdog for ${label} was not armed (${armed.stderr.trim() || `exit ${armed.code}`}): should the runner die during the restart, the next deploy rolls back.`
    )
    return false
  }
  info(
    `Armed the host's watchdog: it returns to ${fallback.release} unless this run confirms ${ctx.release} within ${watchdogBudgetSeconds(ctx)} s of its start`
  )
  return true
}

/** The provisional release was undone by the host's watchdog before this run could decide. */
export class UndoneByHost extends PhaseError {
  constructor(
    label: string,
    phase: PhaseError['phase'],
    readonly undo: HostUndo
  ) {
    super(label, phase, undo.text)
  }
}

/**
 * Takes the decision on this run's release (see decideScript), over a new connection if the
 * session's dropped (taking it twice is harmless: the second finds it taken by this run); throws
 * UndoneByHost when the watchdog took it first.
 */
export async function decide(ctx: DeployContext, as: 'confirmed' | 'rollback'): Promise<void> {
  const phase = as === 'confirmed' ? 'verify' : 'rollback'
  const run = () =>
    ctx.session.remote.run(decideScript(ctx.layout, ctx.lockToken, as, ctx.release), {
      phase,
      timeoutSeconds: COMMAND_SECONDS.stepWait
    })
  const { stdout } = await run().catch(async (error: unknown) => {
    if (!ctx.session.remote.lost) throw error
    await reconnect(ctx.session, ctx.settings, phase)
    return run()
  })
  if (answerOf(stdout, 'mine') !== undefined) return
  const undo = readHostUndo(stdout, ctx.release, ctx.layout.journal) ?? {
    undone: false,
    text: `The host's watchdog took over ${ctx.release}, and its journal says nothing more (the disk may be full)`
  }
  throw new UndoneByHost(ctx.label, phase, undo)
}

/** This run's journal lines, read from the host (the post step, before it acts). */
export async function hostUndo(
  remote: Remote,
  layout: RemoteLayout,
  token: string,
  release: string
): Promise<HostUndo | undefined> {
  const { stdout } = await remote.run(
    joinCode([
      hostLibrary({ file: relativeToTarget(layout).journal, token }),
      sh`cd -- ${layout.target} || exit 1
journal_lines`
    ]),
    { phase: 'post', timeoutSeconds: COMMAND_SECONDS.quick }
  )
  return readHostUndo(stdout, release, layout.journal)
}

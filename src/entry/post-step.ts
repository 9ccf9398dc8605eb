import * as core from '@actions/core'
import { errorText } from '../model/phase.js'
import type { DeployContext } from '../model/context.js'
import { GitHubDeployment } from '../report/deployments.js'
import { hostLabel, type HostAddress } from '../inputs/host-address.js'
import type { HostStepReader } from '../remote/host-step.js'
import { openSshHost, type DeployHost, type OpenHost } from '../engine/deploy-host.js'
import { remoteLayout } from '../remote/layout.js'
import { prunes, warnPruneFailed } from '../tasks/prune.js'
import { operationOn, rollbackSentence } from '../model/outcomes.js'
import { afterFailure, recoveryFor } from '../engine/recovery.js'
import { STEP_WAIT_SECONDS } from '../model/budgets.js'
import { startedService } from '../commands/start.js'
import { stoppedService } from '../tasks/stop.js'
import type { Restart } from '../tasks/restart.js'
import { type HostUndo } from '../commands/watchdog.js'
import { UndoneByHost } from '../tasks/watchdog.js'
import { getSettings, type Settings } from '../inputs/settings.js'
import {
  loadPostState,
  postStateSaved,
  type RunningRestart,
  type UnverifiedSwitch
} from '../model/post-state.js'
import { info } from '../report/host-text.js'
import { strategyOf } from '../model/strategy.js'

/** Runs `work` on a new connection to the host an entry names, closing it after. */
async function onHost<T>(
  open: OpenHost,
  settings: Settings,
  address: HostAddress,
  work: (host: DeployHost) => Promise<T>
): Promise<T> {
  const host = await open(address, settings, 'post')
  try {
    return await work(host)
  } finally {
    host.close()
  }
}

/** Waits for the restart step in `outFile` to end on the host and shows what it printed. */
async function awaitRestart(host: DeployHost, outFile: string): Promise<HostStepReader> {
  const step = await host.awaitStep(outFile)
  core.startGroup(`${hostLabel(host.address)}: the restart the main step did not see finish`)
  for (const line of step.log()) info(line)
  core.endGroup()
  return step
}

/** Reads what a restart step cut off from the main step did on the host, waiting for it to end. */
async function reportRestart(host: DeployHost, restart: RunningRestart): Promise<void> {
  const label = hostLabel(host.address)
  const step = await awaitRestart(host, restart.outFile)
  core.warning(
    step.exit === undefined
      ? `The deploy to ${label} was interrupted while the host restarted the service, and that step has not finished (${restart.outFile}).`
      : step.exit.code === 0
        ? `The deploy to ${label} was interrupted during the restart; the host finished it: the service was restarted.`
        : `The deploy to ${label} was interrupted during the restart; on the host it failed in ${step.lastPhase('stop')}: ${step.log().slice(-5).join(' / ')}`,
    { title: 'Interrupted restart' }
  )
}

/** What the post step made of a switch left unverified. */
type FinishedSwitch = 'verified' | 'rolled-back' | 'failed' | 'unknown'

/**
 * Finishes a switch the main step left unverified (see settleSwitch). Once the outcome is known,
 * the run's release goes if it is not live, as after a failed deploy, so keep-releases holds.
 */
async function finishUnverified(
  host: DeployHost,
  settings: Settings,
  entry: UnverifiedSwitch
): Promise<FinishedSwitch> {
  // The run's lock is still held: it beats while this verifies or rolls back, as the run did.
  const heartbeat = host.heartbeat(entry.token)
  try {
    const ctx = postContext(host, settings, entry)
    const result = await settleSwitch(host, ctx, entry)
    // Unknown: the host step may still be switching to it. Only a deploy made a release of its own.
    if (
      result !== 'unknown' &&
      strategyOf(settings).keepsReleases &&
      settings.operation === 'deploy'
    ) {
      if (await host.discard(ctx, entry.token))
        info(`Removed the cancelled run's release ${entry.release}`)
    }
    return result
  } finally {
    heartbeat.stop()
  }
}

/** The context the main step had for `entry`'s release, rebuilt from what it saved. */
function postContext(host: DeployHost, settings: Settings, entry: UnverifiedSwitch): DeployContext {
  const { layout, session } = host
  const label = hostLabel(host.address)
  return {
    settings,
    sha: entry.sha,
    label,
    session,
    layout,
    report: { host: label, result: 'failed', rolledBack: false, phases: [] },
    release: entry.release,
    releaseDir: strategyOf(settings).keptDir(layout, entry.release),
    previousRelease: entry.fallback?.release,
    previousSha: entry.fallback?.sha,
    existingReleases: [],
    run: entry.run,
    lockToken: entry.token
  }
}

/** A Restart for the new release started beside the old service at `mark` (overlap). */
const beside = (mark: number): Restart => ({
  stopped: { mark },
  started: {},
  overlap: { retired: false }
})

/**
 * Overlap, after a cut: the new release failed beside the old service, which was never stopped;
 * it is withdrawn (the old release live again), as the run would have.
 */
async function withdrawAfterCut(
  host: DeployHost,
  ctx: DeployContext,
  entry: UnverifiedSwitch,
  failed: { restart: Restart; failure: string }
): Promise<FinishedSwitch> {
  const cut = operationOn(ctx.settings.operation, ctx.label)
  const outcome = await host.withdraw(ctx, failed.restart, failed.failure).then(
    done => rollbackSentence(done),
    (error: unknown) => rollbackSentence({ kind: 'not-run', error: errorText(error) })
  )
  core.error(
    `The ${cut} was cut off, and ${entry.release} failed beside the old service (overlap).\n${failed.failure}\n${outcome}`,
    { title: `Cancelled ${ctx.settings.operation}` }
  )
  return ctx.report.rolledBack ? 'rolled-back' : 'failed'
}

/** prune, for a release the post step verified: the releases on the host now, but the live one. */
async function pruneAfterCancel(host: DeployHost, ctx: DeployContext): Promise<void> {
  // Only a deploy prunes: a rollback or a restart keeps every release as it found them.
  if (!prunes(ctx.settings) || ctx.settings.operation !== 'deploy') return
  const kept = await host.releases()
  await host.prune({ ...ctx, existingReleases: kept.releases.map(release => release.name) })
}

/**
 * Waits for the host's restart step, verifies the release, and if that fails rolls back to the
 * release live before (rollback-on-failure governs it). Says in the log what it found and did,
 * and returns it.
 */
async function settleSwitch(
  host: DeployHost,
  ctx: DeployContext,
  entry: UnverifiedSwitch
): Promise<FinishedSwitch> {
  const { settings, label, layout } = ctx
  const title = `Cancelled ${settings.operation}`
  const cut = operationOn(settings.operation, label)
  // The host's watchdog may have decided already (the post step came late): its journal says.
  const undone = await host.undoneByHost(entry.token, entry.release)
  const step = undone ? undefined : await awaitRestart(host, layout.restartLog)
  const recovery = recoveryFor(entry, step ? { step } : { undo: undone as HostUndo })
  // Whatever undoes a release whose migrate-command ran leaves the database migrated.
  const migrated = entry.migrated ? entry.release : undefined
  const undoneText = (undo: HostUndo) => rollbackSentence({ kind: 'by-host', ...undo }, migrated)
  switch (recovery.action) {
    case 'report-undo':
      core.warning(`The ${cut} was cut off. ${undoneText(recovery.undo)}`, { title })
      return recovery.undo.undone ? 'rolled-back' : 'failed'
    case 'leave':
      core.warning(
        recovery.why === 'killed'
          ? `The ${cut} was cut off during the restart, and the host's step was killed before it finished (during ${recovery.phase}; ${layout.restartLog}). Check the service, then deploy again.`
          : recovery.why === 'unfinished'
            ? `The ${cut} was cut off during the restart, and the host's step has not finished after ${STEP_WAIT_SECONDS} s (${layout.restartLog}). Check the service, then deploy again.`
            : `The ${cut} was cut off before its restart began on the host: ${entry.release} was never started, and the release that was live still serves (${layout.restartLog} is from an earlier restart). Deploy again.`,
        { title }
      )
      return 'unknown'
    case 'failed-before-start':
      core.warning(
        `The ${cut} was cut off during the restart; on the host it failed in ${recovery.phase}, before ${entry.release} was started: ${step?.log().slice(-5).join(' / ')}. Check the service, then deploy again.`,
        { title }
      )
      return 'failed'
    case 'retire-failed':
      core.error(
        `The ${cut} was cut off while the old service was retired (overlap), and that failed in ${recovery.phase}: ${step?.log().slice(-5).join(' / ')}. ${entry.release} answered beside it; check what still runs, then deploy again.`,
        { title }
      )
      return 'failed'
    case 'withdraw':
      return withdrawAfterCut(host, ctx, entry, {
        restart: beside(recovery.mark),
        failure: `start: ${step?.log().slice(-5).join(' / ')}`
      })
  }
  let failure = ''
  let failedIn: 'start' | 'verify' = 'start'
  if (recovery.action === 'failed-start') failure = `start: ${step?.log().slice(-5).join(' / ')}`
  else {
    info(`The main step ended before ${entry.release} on ${label} was verified; verifying it now`)
    try {
      const overlap = recovery.overlap
      let restart: Restart = overlap
        ? {
            stopped: { mark: overlap.mark, gone: overlap.gone },
            started: startedService(step?.outputs.get('start')),
            overlap: { retired: overlap.retired }
          }
        : {
            stopped: stoppedService(
              step?.outputs.get('stop'),
              settings.stopCommand,
              entry.username
            ),
            started: startedService(step?.outputs.get('start'))
          }
      if (overlap && !overlap.retired) {
        // As the run would have: the new release beside the old one, then the old one retired.
        const answered = await host.verify(ctx, restart).then(
          () => true,
          (error: unknown) => {
            if (error instanceof UndoneByHost) throw error
            failure = `verify: ${errorText(error)}`
            return false
          }
        )
        if (!answered) return await withdrawAfterCut(host, ctx, entry, { restart, failure })
        restart = await host.retire(ctx, restart, [])
      }
      const verified = await host.verify(ctx, restart)
      await host.confirm(ctx)
      core.notice(
        `The ${cut} was cut off before its check; the post step verified ${entry.release}: it serves ${verified.commit}.`,
        { title }
      )
      // As the run would have: keep-releases holds after a cancelled deploy too.
      await pruneAfterCancel(host, ctx).catch(error => warnPruneFailed(label, error))
      return 'verified'
    } catch (error) {
      if (error instanceof UndoneByHost) {
        core.warning(`The ${cut} was cut off. ${undoneText(error.undo)}`, { title })
        return error.undo.undone ? 'rolled-back' : 'failed'
      }
      failure = `verify: ${errorText(error)}`
      failedIn = 'verify'
    }
  }
  const next = afterFailure(settings, entry, failedIn)
  if (!next.rollBack) {
    core.error(
      `The ${cut} was cut off, and ${entry.release} is live but failed its check; ${next.why}, so it was left as is.\n${failure}`,
      { title }
    )
    return 'failed'
  }
  info(`${entry.release} failed its check; rolling back to ${entry.fallback?.release}`)
  const outcome = await host.rollback(ctx, failure).then(
    done => rollbackSentence(done, migrated),
    (error: unknown) => rollbackSentence({ kind: 'not-run', error: errorText(error) }, migrated)
  )
  core.error(
    `The ${cut} was cut off, and ${entry.release} failed its check.\n${failure}\n${outcome}`,
    { title }
  )
  return ctx.report.rolledBack ? 'rolled-back' : 'failed'
}

/**
 * The post step, for a run that was cancelled or killed: finish each switch it left unverified
 * (verify, else roll back), report any other restart it left running, then release the deploy
 * locks it left. Each host is handled on its own; nothing here fails the job a second time.
 */
export async function run(open: OpenHost = openSshHost): Promise<void> {
  if (!postStateSaved()) return
  const attempt = async (what: string, work: () => Promise<void>): Promise<void> => {
    try {
      await work()
    } catch (error) {
      core.warning(`The post step could not ${what}: ${errorText(error)}`)
    }
  }
  let settings: Settings
  try {
    settings = getSettings()
  } catch (error) {
    core.warning(`The post step could not finish: ${errorText(error)}`)
    return
  }
  // Only what this run's main step could have written: its hosts, its target, its releases.
  const {
    unverified,
    restarts,
    locks,
    deployment: deploymentId
  } = loadPostState({
    hosts: settings.hosts,
    target: settings.target
  })
  const finished: FinishedSwitch[] = []
  for (const entry of unverified) {
    await attempt(`finish the deploy to ${entry.host}`, async () => {
      finished.push(
        await onHost(open, settings, entry, host => finishUnverified(host, settings, entry))
      )
    })
  }
  // The GitHub deployment the cancelled run marked failed now says what the post step found.
  if (deploymentId && finished.length > 0 && !finished.includes('unknown')) {
    await attempt('update the GitHub deployment', async () => {
      await GitHubDeployment.resume(settings, deploymentId)?.finish(
        finished.every(result => result === 'verified'),
        finished.includes('rolled-back') && !finished.includes('failed')
      )
    })
  }
  const handled = (restart: RunningRestart) =>
    unverified.some(
      entry =>
        entry.host === restart.host &&
        entry.port === restart.port &&
        remoteLayout(entry.target).restartLog === restart.outFile
    )
  for (const restart of restarts.filter(restart => !handled(restart)))
    await attempt(`read the restart on ${restart.host}`, () =>
      onHost(open, settings, restart, host => reportRestart(host, restart))
    )
  for (const lock of locks)
    await attempt(`release ${lock.lockDir} on ${lock.host}`, () =>
      onHost(open, settings, lock, async host => {
        const outcome = await host.releaseLock(lock, true)
        info(`${outcome} on ${hostLabel(host.address)}, left by an interrupted deploy`)
      })
    )
}

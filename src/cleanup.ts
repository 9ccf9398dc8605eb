import * as core from '@actions/core'
import { errorText } from './phase.js'
import type { DeployContext } from './context.js'
import { GitHubDeployment } from './deployments.js'
import { hostLabel } from './host-address.js'
import { awaitStepScript, stepOutcome, type HostStepReader } from './host-step.js'
import { remoteLayout, type RemoteLayout } from './layout.js'
import { connect, reconnect, type HostSession } from './phases/connect.js'
import { releaseLockScript, releaseOutcome, startHeartbeat } from './phases/lock.js'
import { discardReleaseScript, prune, prunes, warnPruneFailed } from './phases/prune.js'
import { sh } from './shell.js'
import { migrationsKept } from './phases/migrate.js'
import { rollback } from './phases/rollback.js'
import { afterFailure, recoveryFor } from './recovery.js'
import { STEP_WAIT_SECONDS } from './protocol.js'
import { startedService } from './phases/start.js'
import { stoppedService } from './phases/stop.js'
import { verifyService } from './phases/verify.js'
import { decide, hostUndo, UndoneByHost, type HostUndo } from './phases/watchdog.js'
import { getSettings, type Settings } from './settings.js'
import {
  loadPostState,
  postStateSaved,
  type HeldLock,
  type RunningRestart,
  type UnverifiedSwitch
} from './post-state.js'
import { info } from './host-text.js'

/** Waits for the restart step in `outFile` to end on the host and shows what it printed. */
async function awaitRestart(
  session: HostSession,
  outFile: string,
  label: string
): Promise<HostStepReader> {
  const { stdout } = await session.remote.run(awaitStepScript(outFile, STEP_WAIT_SECONDS), {
    phase: 'post',
    timeoutSeconds: STEP_WAIT_SECONDS + 60
  })
  const step = stepOutcome(stdout)
  core.startGroup(`${label}: the restart the main step did not see finish`)
  for (const line of step.log()) info(line)
  core.endGroup()
  return step
}

/** Reads what a restart step cut off from the main step did on the host, waiting for it to end. */
async function reportRestart(settings: Settings, restart: RunningRestart): Promise<void> {
  const address = { host: restart.host, port: restart.port, username: restart.username }
  const label = hostLabel(address)
  const session = await connect(address, settings, 'post')
  try {
    const step = await awaitRestart(session, restart.outFile, label)
    core.warning(
      step.exit === undefined
        ? `The deploy to ${label} was interrupted while the host restarted the service, and that step has not finished (${restart.outFile}).`
        : step.exit.code === 0
          ? `The deploy to ${label} was interrupted during the restart; the host finished it: the service was restarted.`
          : `The deploy to ${label} was interrupted during the restart; on the host it failed in ${step.lastPhase('stop')}: ${step.log().slice(-5).join(' / ')}`,
      { title: 'Interrupted restart' }
    )
  } finally {
    session.close()
  }
}

/** What the post step made of a switch left unverified. */
type FinishedSwitch = 'verified' | 'rolled-back' | 'failed' | 'unknown'

/**
 * Finishes a switch the main step left unverified (see settleSwitch). Once the outcome is known,
 * the run's release goes if it is not live, as after a failed deploy, so keep-releases holds.
 */
async function finishUnverified(
  settings: Settings,
  entry: UnverifiedSwitch
): Promise<FinishedSwitch> {
  const address = { host: entry.host, port: entry.port, username: entry.username }
  const layout = remoteLayout(entry.target, entry.startLog)
  const session = await connect(address, settings, 'post')
  // The run's lock is still held: it beats while this verifies or rolls back, as the run did.
  const heartbeat = startHeartbeat(session, layout, entry.token)
  try {
    const result = await settleSwitch(settings, entry, session, layout)
    // Unknown: the host step may still be switching to it.
    if (result !== 'unknown' && settings.strategy === 'releases') {
      await reconnect(session, settings, 'post')
      const { stdout } = await session.remote.run(
        discardReleaseScript(layout, entry.release, entry.token),
        {
          phase: 'post',
          timeoutSeconds: 300
        }
      )
      if (/^discarded$/m.test(stdout)) info(`Removed the cancelled run's release ${entry.release}`)
    }
    return result
  } finally {
    heartbeat.stop()
    session.close()
  }
}

/** prune, for a release the post step verified: the releases on the host now, but the live one. */
async function pruneAfterCancel(ctx: DeployContext): Promise<void> {
  // Only a deploy prunes: a rollback or a restart keeps every release as it found them.
  if (!prunes(ctx.settings) || ctx.settings.operation !== 'deploy') return
  const { stdout } = await ctx.session.remote.run(
    sh`cd -- ${ctx.layout.releasesDir} 2>/dev/null && ls -1`,
    { phase: 'post', timeoutSeconds: 60, allowFailure: true }
  )
  await prune({ ...ctx, existingReleases: stdout.split('\n').filter(Boolean) })
}

/**
 * Waits for the host's restart step, verifies the release, and if that fails rolls back to the
 * release live before (rollback-on-failure governs it). Says in the log what it found and did,
 * and returns it.
 */
async function settleSwitch(
  settings: Settings,
  entry: UnverifiedSwitch,
  session: HostSession,
  layout: RemoteLayout
): Promise<FinishedSwitch> {
  const label = hostLabel(session.address)
  const title = 'Cancelled deploy'
  // The host's watchdog may have decided already (the post step came late): its journal says.
  const undone = await hostUndo(session.remote, layout, entry.token, entry.release)
  const step = undone ? undefined : await awaitRestart(session, layout.restartLog, label)
  const recovery = recoveryFor(entry, step ? { step } : { undo: undone as HostUndo })
  // Whatever undoes a release whose migrate-command ran leaves the database migrated.
  const kept = entry.migrated ? ` ${migrationsKept(entry.release)}` : ''
  const undoneText = (undo: HostUndo) => `${undo.text}${undo.undone ? kept : ''}`
  switch (recovery.action) {
    case 'report-undo':
      core.warning(`The deploy to ${label} was cut off. ${undoneText(recovery.undo)}`, { title })
      return recovery.undo.undone ? 'rolled-back' : 'failed'
    case 'leave':
      core.warning(
        recovery.why === 'killed'
          ? `The deploy to ${label} was cut off during the restart, and the host's step was killed before it finished (during ${recovery.phase}; ${layout.restartLog}). Check the service, then deploy again.`
          : recovery.why === 'unfinished'
            ? `The deploy to ${label} was cut off during the restart, and the host's step has not finished after ${STEP_WAIT_SECONDS} s (${layout.restartLog}). Check the service, then deploy again.`
            : `The deploy to ${label} was cut off before its restart began on the host: ${entry.release} was never started, and the release that was live still serves (${layout.restartLog} is from an earlier restart). Deploy again.`,
        { title }
      )
      return 'unknown'
    case 'failed-before-start':
      core.warning(
        `The deploy to ${label} was cut off during the restart; on the host it failed in ${recovery.phase}, before ${entry.release} was started: ${step?.log().slice(-5).join(' / ')}. Check the service, then deploy again.`,
        { title }
      )
      return 'failed'
  }
  const ctx: DeployContext = {
    settings,
    sha: entry.sha,
    label,
    session,
    layout,
    report: { host: label, result: 'failed', rolledBack: false, phases: [] },
    release: entry.release,
    releaseDir:
      settings.strategy === 'releases' ? `${layout.releasesDir}/${entry.release}` : layout.target,
    previousRelease: entry.fallback?.release,
    previousSha: entry.fallback?.sha,
    existingReleases: [],
    run: entry.run,
    lockToken: entry.token
  }
  let failure: string
  let failedIn: 'start' | 'verify' = 'start'
  if (recovery.action === 'failed-start') failure = `start: ${step?.log().slice(-5).join(' / ')}`
  else {
    info(`The main step ended before ${entry.release} on ${label} was verified; verifying it now`)
    try {
      const restart = {
        stopped: stoppedService(step?.outputs.get('stop'), settings.stopCommand, entry.username),
        started: startedService(step?.outputs.get('start'))
      }
      const verified = await verifyService(ctx, entry.sha, restart)
      await decide(ctx, 'confirmed')
      core.notice(
        `The deploy to ${label} was cut off before its check; the post step verified ${entry.release}: it serves ${verified.commit}.`,
        { title }
      )
      // As the run would have: keep-releases holds after a cancelled deploy too.
      await pruneAfterCancel(ctx).catch(error => warnPruneFailed(label, error))
      return 'verified'
    } catch (error) {
      if (error instanceof UndoneByHost) {
        core.warning(`The deploy to ${label} was cut off. ${undoneText(error.undo)}`, { title })
        return error.undo.undone ? 'rolled-back' : 'failed'
      }
      failure = `verify: ${errorText(error)}`
      failedIn = 'verify'
    }
  }
  const next = afterFailure(settings, entry, failedIn)
  if (!next.rollBack) {
    core.error(
      `The deploy to ${label} was cut off, and ${entry.release} is live but failed its check; ${next.why}, so it was left as is.\n${failure}`,
      { title }
    )
    return 'failed'
  }
  info(`${entry.release} failed its check; rolling back to ${entry.fallback?.release}`)
  const outcome = await rollback(ctx, failure).then(
    done => done.text,
    (error: unknown) => `The rollback failed: ${errorText(error)}`
  )
  core.error(
    `The deploy to ${label} was cut off, and ${entry.release} failed its check.\n${failure}\n${outcome}${kept}`,
    { title }
  )
  return ctx.report.rolledBack ? 'rolled-back' : 'failed'
}

/** Releases one lock a run left, over a new connection. */
async function releaseLeftLock(settings: Settings, lock: HeldLock): Promise<void> {
  const address = { host: lock.host, port: lock.port, username: lock.username }
  const session = await connect(address, settings, 'post')
  try {
    const { stdout } = await session.remote.run(releaseLockScript(lock, true), {
      phase: 'post',
      timeoutSeconds: STEP_WAIT_SECONDS + 60
    })
    info(`${releaseOutcome(lock, stdout)} on ${hostLabel(address)}, left by an interrupted deploy`)
  } finally {
    session.close()
  }
}

/**
 * The post step, for a run that was cancelled or killed: finish each switch it left unverified
 * (verify, else roll back), report any other restart it left running, then release the deploy
 * locks it left. Each host is handled on its own; nothing here fails the job a second time.
 */
export async function run(): Promise<void> {
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
      finished.push(await finishUnverified(settings, entry))
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
    await attempt(`read the restart on ${restart.host}`, () => reportRestart(settings, restart))
  for (const lock of locks)
    await attempt(`release ${lock.lockDir} on ${lock.host}`, () => releaseLeftLock(settings, lock))
}

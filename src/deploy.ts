import * as core from '@actions/core'
import { phaseBudgets } from './budgets.js'
import { newDeployContext, type DeployContext } from './context.js'
import { hostLabel, type HostAddress } from './host-address.js'
import { withHostOutput } from './host-output.js'
import { remoteLayout } from './layout.js'
import { connect, reconnect, type HostSession } from './phases/connect.js'
import {
  acquireLock,
  lockOwner,
  releaseLockScript,
  releaseOutcome,
  startHeartbeat
} from './phases/lock.js'
import { prepare } from './phases/prepare.js'
import { discardRelease, prune, prunes, warnPruneFailed } from './phases/prune.js'
import { rollback } from './phases/rollback.js'
import { runningVersion, verifyService } from './phases/verify.js'
import { HostStepDied, restartService } from './phases/restart.js'
import { switchBody } from './phases/switch.js'
import { scanUploadSource, upload } from './phases/upload.js'
import { armWatchdog, decide, launchWatchdogScript, UndoneByHost } from './phases/watchdog.js'
import { errorText, PhaseError, runPhase } from './phase.js'
import { runContext } from './run-context.js'
import { describePlan } from './plan.js'
import type { DeployReport, HostReport } from './report.js'
import type { Settings } from './settings.js'
import {
  dropForPostStep,
  keepForPostStep,
  type HeldLock,
  type UnverifiedSwitch
} from './post-state.js'

/** Releases the lock; reconnects first if the connection it was taken on is gone. */
async function releaseLock(
  address: HostAddress,
  settings: Settings,
  session: HostSession,
  lock: HeldLock
): Promise<void> {
  const release = (on: HostSession) =>
    on.remote
      .run(releaseLockScript(lock), {
        phase: 'lock',
        timeoutSeconds: phaseBudgets(settings).lockRelease
      })
      .then(result => result.stdout)
  let stdout: string
  try {
    stdout = await release(session)
  } catch {
    const fresh = await connect(address, settings, 'lock')
    try {
      stdout = await release(fresh)
    } finally {
      fresh.close()
    }
  }
  dropForPostStep('locks', lock)
  core.info(releaseOutcome(lock, stdout))
}

/** lock → upload → prepare → switch → prune, with the lock released on every path. */
async function ship(
  address: HostAddress,
  settings: Settings,
  session: HostSession,
  sha: string,
  report: HostReport
): Promise<void> {
  const label = hostLabel(address)
  const layout = remoteLayout(session.target, session.startLog)
  const owner = lockOwner(sha, runContext().runUrl)
  const lock: HeldLock = {
    host: address.host,
    port: address.port,
    username: address.username,
    lockDir: layout.lockDir,
    restartLog: layout.restartLog,
    token: owner.token
  }
  const budget = phaseBudgets(settings)
  const phase = <T>(
    name: Parameters<typeof runPhase>[1],
    timeoutSeconds: number,
    body: () => Promise<T>
  ) => runPhase(label, name, timeoutSeconds, report.phases, body)

  // Recorded before taking it: the release only removes a lock holding this token, and a run
  // cancelled right after mkdir must still leave the post step something to release.
  keepForPostStep('locks', lock)
  let heartbeat: { stop(): void } | undefined
  let created: DeployContext | undefined
  try {
    await phase('lock', budget.lock, () =>
      acquireLock(session.remote, layout, owner, settings.lockTimeoutSeconds)
    )
    // While it beats, no other deploy takes the lock; once this runner dies or freezes, one may.
    heartbeat = startHeartbeat(session, layout, owner.token)
    const ctx = newDeployContext({
      settings,
      sha,
      label,
      session,
      layout,
      report,
      run: owner.run,
      lockToken: owner.token
    })
    created = ctx
    // Named now: a run cancelled before its switch leaves it for the post step to remove.
    lock.release = ctx.release
    keepForPostStep('locks', lock)
    await phase('upload', budget.upload, () => upload(ctx))
    // Armed first, before a prepare-command can fill the disk: it only writes into the lock.
    let armed = false
    await phase('prepare', budget.prepare, async () => {
      armed = await armWatchdog(ctx)
      await prepare(ctx)
    })
    // Read before anything stops, for allow-downgrade: false.
    if (!settings.allowDowngrade) report.previousVersion = await runningVersion(ctx)
    const where = { host: address.host, port: address.port, target: layout.target }
    const unverified = (
      release: string,
      releaseSha: string,
      fallback?: UnverifiedSwitch['fallback']
    ) =>
      keepForPostStep('unverified', {
        ...where,
        username: address.username,
        startLog: session.startLog,
        release,
        sha: releaseSha,
        fallback,
        token: owner.token,
        run: owner.run
      })
    const fallback =
      ctx.previousRelease && ctx.previousSha
        ? { release: ctx.previousRelease, sha: ctx.previousSha }
        : undefined
    // Until the answer is in, the post step can finish what a cancelled run leaves (see cleanup.ts).
    unverified(ctx.release, sha, fallback)
    try {
      const restart = await restartService(
        ctx,
        switchBody(ctx, owner.token),
        report.phases,
        armed ? launchWatchdogScript(ctx) : undefined
      )
      const verified = await phase('verify', budget.verify, async () => {
        const answer = await verifyService(ctx, sha, restart, report.previousVersion)
        await decide(ctx, 'confirmed')
        return answer
      })
      report.reportedVersion = verified.version ?? verified.commit
      report.downtimeSeconds = (verified.firstAnsweredAt - restart.stopped.sentAt) / 1000
    } catch (error) {
      if (error instanceof UndoneByHost) {
        // The host's watchdog decided (this runner froze past its budget): report what it did.
        // Its message is the whole story: no separate rollback outcome to repeat it.
        report.rolledBack = error.undo.undone
        throw error
      }
      // A failure after the switch leaves a new release live that a rollback can undo; a killed
      // host step leaves the service in no known state, which returning to the live release repairs.
      const afterSwitch =
        error instanceof PhaseError &&
        (error.phase === 'start' || error.phase === 'verify' || error instanceof HostStepDied)
      if (settings.strategy !== 'releases' || !settings.rollbackOnFailure || !afterSwitch) {
        throw error
      }
      if (fallback) unverified(fallback.release, fallback.sha)
      else dropForPostStep('unverified', where)
      const outcome = await phase('rollback', budget.rollback, async () => {
        await reconnect(session, settings, 'rollback')
        return rollback(ctx, error.detail)
      }).catch(
        (rollbackError: unknown) =>
          `The rollback failed: ${rollbackError instanceof PhaseError ? rollbackError.detail : errorText(rollbackError)}`
      )
      report.rollbackOutcome = outcome
      throw new PhaseError(label, error.phase, `${error.detail}\n${outcome}`)
    } finally {
      dropForPostStep('unverified', where)
    }
    report.result = 'success'
    // Verify passed: the deploy succeeded, and what is left can only warn.
    if (prunes(settings)) {
      await phase('prune', budget.prune, () => prune(ctx)).catch(error =>
        warnPruneFailed(label, error)
      )
    }
  } catch (error) {
    // A failed deploy leaves no release of its own behind once it is not live.
    const failed = created
    if (failed && settings.strategy === 'releases') {
      await reconnect(session, settings, 'prune')
        .then(() => discardRelease(failed))
        .catch(discardError =>
          core.warning(
            `Could not remove the failed release ${failed.release} on ${label}: ${errorText(discardError)}`
          )
        )
    }
    throw error
  } finally {
    heartbeat?.stop()
    await releaseLock(address, settings, session, lock).catch(error =>
      core.warning(
        `Could not release ${layout.lockDir} on ${label}: ${errorText(error)}. The post step will retry.`
      )
    )
  }
}

/** Runs the pipeline against one host, recording what happened in `report`. */
async function deployHost(
  address: HostAddress,
  settings: Settings,
  sha: string,
  report: HostReport
): Promise<void> {
  const label = hostLabel(address)
  report.sha = sha
  // Hash the source while connecting; the upload phase awaits this same scan.
  if (!settings.dryRun) void scanUploadSource(settings)
  const session = await runPhase(
    label,
    'connect',
    phaseBudgets(settings).connect,
    report.phases,
    () => connect(address, settings)
  )
  try {
    if (!settings.dryRun) return await ship(address, settings, session, sha, report)
    const plan = describePlan(
      settings,
      { label, target: session.target, startLog: session.startLog },
      sha,
      new Date()
    )
    await runPhase(label, 'plan', 10, report.phases, async () => {
      core.info('Dry run: nothing on the host is changed. The deploy would run:')
      for (const line of plan) core.info(line)
    })
    report.plan = plan
    report.result = 'dry-run'
  } finally {
    session.close()
  }
}

/** Deploys to one host, turning a failure into its report entry and an annotation. */
async function deployRecorded(
  address: HostAddress,
  settings: Settings,
  sha: string,
  host: HostReport
): Promise<boolean> {
  try {
    await deployHost(address, settings, sha, host)
    return true
  } catch (error) {
    host.result = 'failed'
    host.error = errorText(error)
    host.failedPhase = error instanceof PhaseError ? error.phase : undefined
    core.error(host.error, {
      title: `Deploy to ${host.host} failed in ${host.failedPhase ?? 'deploy'}${host.rolledBack ? '; rolled back' : ''}`
    })
    return false
  }
}

/**
 * Deploys to every host, `max-parallel` at a time. After the first failure no further host is
 * started (with 1, a rolling deploy that stops there); hosts already done stay on the new release.
 */
export async function deployAll(
  settings: Settings,
  sha: string,
  report: DeployReport
): Promise<void> {
  const hosts = settings.hosts.map(address => ({
    address,
    report: report.addHost(hostLabel(address))
  }))
  let next = 0
  let failed = false
  const separateOutput = settings.maxParallel > 1 && hosts.length > 1
  const worker = async (): Promise<void> => {
    while (!failed && next < hosts.length) {
      const { address, report: host } = hosts[next++]
      const deployed = await withHostOutput(host.host, separateOutput, () =>
        deployRecorded(address, settings, sha, host)
      )
      if (!deployed) failed = true
    }
  }
  await Promise.all(Array.from({ length: Math.min(settings.maxParallel, hosts.length) }, worker))
  const failures = report.hosts.filter(host => host.result === 'failed')
  if (failures.length === 0) return
  const done = report.hosts.filter(host => host.result === 'success').map(host => host.host)
  const skipped = report.hosts.filter(host => host.result === 'not-started').map(host => host.host)
  throw new Error(
    failures
      .map(
        host =>
          `Deploy failed on ${host.host} in ${host.failedPhase ?? 'deploy'}` +
          (host.rolledBack ? '; the previous release was restored and verified' : '')
      )
      .join('. ') +
      (done.length > 0 ? `. Deployed (left on the new release): ${done.join(', ')}` : '') +
      (skipped.length > 0 ? `. Not started: ${skipped.join(', ')}` : '') +
      '. The errors above and the job summary have the details.'
  )
}

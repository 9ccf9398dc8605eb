import * as core from '@actions/core'
import { newDeployContext, type DeployContext } from './context.js'
import { sshHost, type DeployHost } from './host.js'
import { hostLabel, type HostAddress } from './host-address.js'
import { withHostOutput } from './host-output.js'
import { connect } from './phases/connect.js'
import { lockOwner } from './phases/lock.js'
import { migrationsKept } from './phases/migrate.js'
import { prunes, warnPruneFailed } from './phases/prune.js'
import { HostStepUnknown } from './host-step.js'
import { rollsBack, type RollbackOutcome } from './phases/rollback.js'
import { scanUploadSource } from './phases/upload.js'
import { UndoneByHost } from './phases/watchdog.js'
import { errorText, PhaseError, runPhase, type PhaseName } from './phase.js'
import { runContext } from './run-context.js'
import { describePlan, phaseBudget } from './pipeline.js'
import {
  dropForPostStep,
  keepForPostStep,
  type HeldLock,
  type UnverifiedSwitch
} from './post-state.js'
import type { DeployReport, HostReport } from './report.js'
import type { Settings } from './settings.js'
import { info } from './host-text.js'

/** lock → upload → prepare → restart → verify → prune, with the lock released on every path. */
export async function ship(
  host: DeployHost,
  settings: Settings,
  sha: string,
  report: HostReport
): Promise<void> {
  const { address, layout, session } = host
  const label = hostLabel(address)
  const owner = lockOwner(sha, runContext().runUrl)
  const lock: HeldLock = {
    host: address.host,
    port: address.port,
    username: address.username,
    lockDir: layout.lockDir,
    restartLog: layout.restartLog,
    token: owner.token
  }
  const phase = <T>(name: Exclude<PhaseName, 'plan'>, body: () => Promise<T>) =>
    runPhase(label, name, phaseBudget(settings, name), report.phases, body)

  // Recorded before taking it: the release only removes a lock holding this token, and a run
  // cancelled right after mkdir must still leave the post step something to release.
  keepForPostStep('locks', lock)
  let heartbeat: { stop(): void } | undefined
  let created: DeployContext | undefined
  try {
    await phase('lock', () => host.lock(owner))
    // While it beats, no other deploy takes the lock; once this runner dies or freezes, one may.
    heartbeat = host.heartbeat(owner.token)
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
    await phase('upload', () => host.upload(ctx))
    // Armed first, before a prepare-command can fill the disk: it only writes into the lock.
    let armed = false
    await phase('prepare', async () => {
      armed = await host.armWatchdog(ctx)
      await host.prepare(ctx)
    })
    const { migrateCommand } = settings
    if (migrateCommand) await phase('migrate', () => host.migrate(ctx, migrateCommand))
    // A rollback cannot undo migrations: once they ran, a rollback past this release says so.
    const migrated = migrateCommand !== undefined
    // Read before anything stops, for allow-downgrade: false.
    if (!settings.allowDowngrade) report.previousVersion = await host.runningVersion(ctx)
    const where = { host: address.host, port: address.port, target: layout.target }
    const unverified = (
      release: string,
      releaseSha: string,
      fallback?: UnverifiedSwitch['fallback'],
      releaseMigrated?: true
    ) =>
      keepForPostStep('unverified', {
        ...where,
        username: address.username,
        startLog: session.startLog,
        release,
        sha: releaseSha,
        fallback,
        migrated: releaseMigrated,
        token: owner.token,
        run: owner.run
      })
    const fallback =
      ctx.previousRelease && ctx.previousSha
        ? { release: ctx.previousRelease, sha: ctx.previousSha }
        : undefined
    // Until the answer is in, the post step can finish what a cancelled run leaves (see cleanup.ts).
    unverified(ctx.release, sha, fallback, migrated || undefined)
    // Downtime runs from here to the first verified answer of whatever serves next.
    const stopSentAt = Date.now()
    try {
      const restart = await host.restart(ctx, report.phases, armed)
      if (settings.holdPorts) report.heldPorts = settings.listen
      const verified = await phase('verify', async () => {
        const answer = await host.verify(ctx, restart, report.previousVersion)
        await host.confirm(ctx)
        return answer
      })
      report.reportedVersion = verified.version ?? verified.commit
      report.downtimeSeconds = (verified.firstAnsweredAt - stopSentAt) / 1000
    } catch (error) {
      if (error instanceof UndoneByHost) {
        // The host's watchdog decided (this runner froze past its budget): report what it did.
        // Its message is the whole story: no separate rollback outcome to repeat it.
        report.rolledBack = error.undo.undone
        if (migrated && error.undo.undone) report.rollbackOutcome = migrationsKept(ctx.release)
        throw error
      }
      // A step killed halfway, or one whose end was not read: what serves is no known state.
      const killed = error instanceof HostStepUnknown
      if (!(error instanceof PhaseError) || !rollsBack(settings, { phase: error.phase, killed })) {
        throw error
      }
      if (fallback) unverified(fallback.release, fallback.sha)
      else dropForPostStep('unverified', where)
      const outcome = await phase('rollback', () => host.rollback(ctx, error.detail)).catch(
        (rollbackError: unknown): RollbackOutcome => ({
          text: `The rollback failed: ${rollbackError instanceof PhaseError ? rollbackError.detail : errorText(rollbackError)}`
        })
      )
      // Reported beside the failure (the annotation, the summary), not inside its text.
      report.rollbackOutcome = migrated
        ? `${outcome.text} ${migrationsKept(ctx.release)}`
        : outcome.text
      if (outcome.servingSince !== undefined) {
        report.downtimeSeconds = (outcome.servingSince - stopSentAt) / 1000
      }
      throw error
    } finally {
      dropForPostStep('unverified', where)
    }
    report.result = 'success'
    // Verify passed: the deploy succeeded, and what is left can only warn.
    if (prunes(settings)) {
      await phase('prune', () => host.prune(ctx)).catch(error => warnPruneFailed(label, error))
    }
  } catch (error) {
    // A failed deploy leaves no release of its own behind once it is not live.
    const failed = created
    if (failed && settings.strategy === 'releases') {
      await host
        .discard(failed)
        .catch(discardError =>
          core.warning(
            `Could not remove the failed release ${failed.release} on ${label}: ${errorText(discardError)}`
          )
        )
    }
    throw error
  } finally {
    heartbeat?.stop()
    await host
      .releaseLock(lock)
      .then(outcome => {
        dropForPostStep('locks', lock)
        info(outcome)
      })
      .catch(error =>
        core.warning(
          `Could not release ${layout.lockDir} on ${label}: ${errorText(error)}. The post step will retry.`
        )
      )
  }
}

/** Connects to a host (the connect phase). */
export type OpenHost = (address: HostAddress, settings: Settings) => Promise<DeployHost>

const openSshHost: OpenHost = async (address, settings) =>
  sshHost(await connect(address, settings), settings)

/** Runs the pipeline against one host, recording what happened in `report`. */
async function deployHost(
  address: HostAddress,
  settings: Settings,
  sha: string,
  report: HostReport,
  open: OpenHost
): Promise<void> {
  const label = hostLabel(address)
  report.sha = sha
  // Hash the source while connecting; the upload phase awaits this same scan.
  if (!settings.dryRun) void scanUploadSource(settings)
  const host = await runPhase(
    label,
    'connect',
    phaseBudget(settings, 'connect'),
    report.phases,
    () => open(address, settings)
  )
  try {
    if (!settings.dryRun) return await ship(host, settings, sha, report)
    const plan = describePlan(
      settings,
      { label, target: host.session.target, startLog: host.session.startLog },
      sha,
      new Date()
    )
    await runPhase(label, 'plan', 10, report.phases, async () => {
      info('Dry run: nothing on the host is changed. The deploy would run:')
      for (const line of plan) info(line)
    })
    report.plan = plan
    report.result = 'dry-run'
  } finally {
    host.close()
  }
}

/** Deploys to one host, turning a failure into its report entry and an annotation. */
async function deployRecorded(
  address: HostAddress,
  settings: Settings,
  sha: string,
  host: HostReport,
  open: OpenHost
): Promise<boolean> {
  try {
    await deployHost(address, settings, sha, host, open)
    return true
  } catch (error) {
    host.result = 'failed'
    host.error = errorText(error)
    host.failedPhase = error instanceof PhaseError ? error.phase : undefined
    core.error([host.error, host.rollbackOutcome].filter(Boolean).join('\n'), {
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
  report: DeployReport,
  open: OpenHost = openSshHost
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
        deployRecorded(address, settings, sha, host, open)
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

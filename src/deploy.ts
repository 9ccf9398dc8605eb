import * as core from '@actions/core'
import { newDeployContext, type DeployContext } from './context.js'
import { openSshHost, type DeployHost, type OpenHost } from './host.js'
import { hostLabel, type HostAddress } from './host-address.js'
import { withHostOutput } from './host-output.js'
import { lockOwner, type LockOwner } from './phases/lock.js'
import { migrationsKept } from './phases/migrate.js'
import { prunes, warnPruneFailed } from './phases/prune.js'
import { HostStepUnknown } from './host-step.js'
import { chooseRollback, type HostReleases, type KeptRelease } from './phases/releases.js'
import type { RestartKind } from './phases/restart.js'
import { rollsBack, type RollbackOutcome } from './phases/rollback.js'
import { commitMatches } from './version-probe.js'
import { scanUploadSource } from './phases/upload.js'
import { UndoneByHost } from './phases/watchdog.js'
import { errorText, PhaseError, runPhase, type PhaseName } from './phase.js'
import { runContext } from './run-context.js'
import { describePlan, phaseBudget } from './pipeline.js'
import { dropForPostStep, keepForPostStep, type HeldLock } from './post-state.js'
import type { DeployReport, HostReport } from './report.js'
import type { Settings } from './settings.js'
import { info } from './host-text.js'

/** Runs one phase of a host's operation: its log group, its budget, its timing. */
function phaseRunner(host: DeployHost, settings: Settings, report: HostReport) {
  const label = hostLabel(host.address)
  return <T>(name: Exclude<PhaseName, 'plan'>, body: () => Promise<T>) =>
    runPhase(label, name, phaseBudget(settings, name), report.phases, body)
}

/**
 * Takes the deploy lock, keeps it beating while `work` runs, and releases it on every path; the
 * post step releases it if this run cannot. Every operation but verify runs under it.
 */
async function underLock<T>(
  host: DeployHost,
  settings: Settings,
  sha: string,
  report: HostReport,
  work: (owner: LockOwner, lock: HeldLock) => Promise<T>
): Promise<T> {
  const { address, layout } = host
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
  // Recorded before taking it: the release only removes a lock holding this token, and a run
  // cancelled right after mkdir must still leave the post step something to release.
  keepForPostStep('locks', lock)
  let heartbeat: { stop(): void } | undefined
  try {
    await phaseRunner(host, settings, report)('lock', () => host.lock(owner))
    // While it beats, no other deploy takes the lock; once this runner dies or freezes, one may.
    heartbeat = host.heartbeat(owner.token)
    return await work(owner, lock)
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

/** How the restart of an operation makes its release live. */
interface Switch {
  /** What the host step does between wait-for-exit and start (restart.ts). */
  kind: RestartKind
  /** The release live before, to return to when verify fails (none: nothing to return to). */
  fallback?: { release: string; sha: string }
  /** The host's watchdog was armed for this switch. */
  armed: boolean
  /** The release's migrate-command ran: a rollback past it says the database keeps them. */
  migrated?: true
}

/**
 * What every operation that restarts shares: the restart (stop → wait-for-exit → switch → start,
 * one host step), verify and confirm; on a failure past the switch, the same steps toward the
 * release that was live (host.rollback), as rollsBack decides. Saved for the post step until the
 * answer is in; downtime runs from the stop to the first verified answer.
 */
async function restartAndVerify(
  host: DeployHost,
  settings: Settings,
  ctx: DeployContext,
  report: HostReport,
  how: Switch
): Promise<void> {
  const { address, layout, session } = host
  const phase = phaseRunner(host, settings, report)
  const where = { host: address.host, port: address.port, target: layout.target }
  const unverified = (release: string, releaseSha: string, fallback?: Switch['fallback']) =>
    keepForPostStep('unverified', {
      ...where,
      username: address.username,
      startLog: session.startLog,
      release,
      sha: releaseSha,
      fallback,
      migrated: release === ctx.release ? how.migrated : undefined,
      token: ctx.lockToken,
      run: ctx.run
    })
  // Until the answer is in, the post step can finish what a cancelled run leaves (see post-step.ts).
  unverified(ctx.release, ctx.sha, how.fallback)
  // Downtime runs from here to the first verified answer of whatever serves next.
  const stopSentAt = Date.now()
  try {
    const restart = await host.restart(ctx, report.phases, how.armed, how.kind)
    if (settings.holdPorts) report.heldPorts = settings.listen
    const verified = await phase('verify', async () => {
      const answer = await host.verify(ctx, restart, report.previousVersion)
      // Before the confirm: a service that stops with the session fails verify like any other.
      if (session.stopsAtLogout) await host.verifyAfterLogout(ctx)
      await host.confirm(ctx)
      return answer
    })
    report.reportedVersion = verified.version ?? verified.commit
    const gone = restart.stopped.gone
    if (gone === undefined) report.nothingStopped = true
    else
      report.downtimeSeconds =
        verified.answeredOnHost !== undefined
          ? // As clients saw it, on the host: from the old service gone to the new one's answer.
            Math.max(0, verified.answeredOnHost - gone)
          : // No answer seen on the host (no Python there): the runner's bound, stop to answer.
            (verified.firstAnsweredAt - stopSentAt) / 1000
  } catch (error) {
    if (error instanceof UndoneByHost) {
      // The host's watchdog decided (this runner froze past its budget): report what it did.
      // Its message is the whole story: no separate rollback outcome to repeat it.
      report.rolledBack = error.undo.undone
      if (how.migrated && error.undo.undone) report.rollbackOutcome = migrationsKept(ctx.release)
      throw error
    }
    // A step killed halfway, or one whose end was not read: what serves is no known state.
    const killed = error instanceof HostStepUnknown
    // A restart of the live release has no other release to return to.
    const undoable = how.kind !== 'restart'
    if (
      !undoable ||
      !(error instanceof PhaseError) ||
      !rollsBack(settings, { phase: error.phase, killed })
    ) {
      throw error
    }
    if (how.fallback) unverified(how.fallback.release, how.fallback.sha)
    else dropForPostStep('unverified', where)
    const outcome = await phase('rollback', () => host.rollback(ctx, error.detail)).catch(
      (rollbackError: unknown): RollbackOutcome => ({
        text: `The rollback failed: ${rollbackError instanceof PhaseError ? rollbackError.detail : errorText(rollbackError)}`
      })
    )
    if (outcome.servingSince !== undefined) {
      report.downtimeSeconds = (outcome.servingSince - stopSentAt) / 1000
    }
    const kept = how.migrated ? ` ${migrationsKept(ctx.release)}` : ''
    // The host undid the release while this run was cut off: that is what happened, said first;
    // what verify saw (the old release answering again) follows.
    if (outcome.byHost)
      throw new PhaseError(
        error.host,
        error.phase,
        `${outcome.text}${kept} What this run saw before it knew: ${error.detail}`
      )
    // Reported beside the failure (the annotation, the summary), not inside its text.
    report.rollbackOutcome = `${outcome.text}${kept}`
    throw error
  } finally {
    dropForPostStep('unverified', where)
  }
}

/** deploy: lock → upload → prepare → migrate → restart → verify → prune, the lock released on every path. */
export async function ship(
  host: DeployHost,
  settings: Settings,
  sha: string,
  report: HostReport
): Promise<void> {
  const { address, layout, session } = host
  const label = hostLabel(address)
  const phase = phaseRunner(host, settings, report)
  await underLock(host, settings, sha, report, async (owner, lock) => {
    let created: DeployContext | undefined
    try {
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
      // Read before anything stops, for allow-downgrade: false.
      if (!settings.allowDowngrade) report.previousVersion = await host.runningVersion(ctx)
      await restartAndVerify(host, settings, ctx, report, {
        kind: 'deploy',
        fallback:
          ctx.previousRelease && ctx.previousSha
            ? { release: ctx.previousRelease, sha: ctx.previousSha }
            : undefined,
        armed,
        // A rollback cannot undo migrations: once they ran, a rollback past this release says so.
        migrated: migrateCommand !== undefined || undefined
      })
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
          .then(removed => {
            if (removed) info(`Removed the failed release ${failed.release}`)
            report.releaseRemoved = removed || undefined
          })
          .catch(discardError =>
            core.warning(
              `Could not remove the failed release ${failed.release} on ${label}: ${errorText(discardError)}`
            )
          )
      }
      throw error
    }
  })
}

/** The context of an operation on a release already on the host (rollback, restart, verify). */
function keptContext(
  host: DeployHost,
  settings: Settings,
  report: HostReport,
  release: KeptRelease,
  kept: HostReleases,
  owner?: LockOwner
): DeployContext {
  const { layout, session } = host
  const live = kept.releases.find(each => each.name === kept.live)
  const before = live && live !== release ? live : undefined
  report.sha = release.sha
  report.release = release.name
  report.previousRelease = before?.name
  report.previousSha = before?.sha
  return {
    settings,
    sha: release.sha,
    label: hostLabel(host.address),
    session,
    layout,
    report,
    release: release.name,
    releaseDir:
      settings.strategy === 'releases' ? `${layout.releasesDir}/${release.name}` : layout.target,
    previousRelease: before?.name,
    previousSha: before?.sha,
    existingReleases: kept.releases.map(each => each.name),
    run: owner?.run ?? runContext().runUrl,
    lockToken: owner?.token ?? ''
  }
}

/** What is live, as a kept release, or an error saying there is nothing live to act on. */
function liveRelease(kept: HostReleases, layout: DeployHost['layout']): KeptRelease {
  const live = kept.releases.find(release => release.name === kept.live)
  if (!live)
    throw new Error(
      kept.live === undefined
        ? `nothing is live in ${layout.target} (no current release): deploy first`
        : `${layout.current} names ${kept.live}, which is not a kept release`
    )
  if (!live.sha)
    throw new Error(`${live.name} is live but has no stamp file, so its commit is unknown`)
  return live
}

/** rollback: lock → choose → the restart toward the chosen release → verify; on failure, back to the live one. */
async function rollBack(host: DeployHost, settings: Settings, report: HostReport): Promise<void> {
  const phase = phaseRunner(host, settings, report)
  await underLock(host, settings, 'rollback', report, async owner => {
    const ctx = await phase('choose', async () => {
      const kept = await host.releases()
      const chosen = chooseRollback(kept, settings.rollbackTo)
      info(
        `Rolling back to ${chosen.name} (${chosen.sha})${kept.live ? `; ${kept.live} is live now` : ''}`
      )
      return keptContext(host, settings, report, chosen, kept, owner)
    })
    // The host returns to the release that was live if this run does not confirm the chosen one.
    const armed = await phase('choose', () => host.armWatchdog(ctx))
    const fallback =
      ctx.previousRelease && ctx.previousSha
        ? { release: ctx.previousRelease, sha: ctx.previousSha }
        : undefined
    await restartAndVerify(host, settings, ctx, report, { kind: 'rollback', fallback, armed })
    report.result = 'success'
  })
}

/** restart: lock → choose (what is live) → stop → wait-for-exit → start → verify, the release unchanged. */
async function restartLive(
  host: DeployHost,
  settings: Settings,
  report: HostReport
): Promise<void> {
  const phase = phaseRunner(host, settings, report)
  await underLock(host, settings, 'restart', report, async owner => {
    const ctx = await phase('choose', async () => {
      const kept = await host.releases()
      const live = liveRelease(kept, host.layout)
      info(`Restarting ${live.name} (${live.sha}) as it is`)
      return keptContext(host, settings, report, live, kept, owner)
    })
    await restartAndVerify(host, settings, ctx, report, { kind: 'restart', armed: false })
    report.result = 'success'
  })
}

/**
 * verify, a drift check that changes nothing and takes no lock: the live release must be the
 * expected commit, must have passed verify, and its service must answer with it now.
 */
async function verifyLive(
  host: DeployHost,
  settings: Settings,
  expected: string,
  report: HostReport
): Promise<void> {
  const phase = phaseRunner(host, settings, report)
  const ctx = await phase('choose', async () => {
    const kept = await host.releases()
    if (kept.lock)
      info(`A deploy holds the lock (${kept.lock}); verify only reads, so it goes on without it`)
    const live = liveRelease(kept, host.layout)
    const ctx = keptContext(host, settings, report, live, kept)
    if (!commitMatches(live.sha, expected))
      throw new Error(
        `${live.name} is live with commit ${live.sha}, but ${expected} was expected: the host runs another commit than this run checks for`
      )
    if (live.state !== 'verified')
      throw new Error(
        `${live.name} is live with the expected commit ${live.sha}, but it ${live.state === 'bad' ? 'is marked BAD_RELEASE: it failed after a deploy' : 'never passed verify: a deploy was cut off before its check'}`
      )
    return ctx
  })
  const answer = await phase('verify', () => host.verifyLive(ctx))
  report.reportedVersion = answer.version ?? answer.commit
  report.result = 'success'
}

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
  if (!settings.dryRun && settings.operation === 'deploy') void scanUploadSource(settings)
  const host = await runPhase(
    label,
    'connect',
    phaseBudget(settings, 'connect'),
    report.phases,
    () => open(address, settings)
  )
  try {
    if (!settings.dryRun) {
      switch (settings.operation) {
        case 'deploy':
          return await ship(host, settings, sha, report)
        case 'rollback':
          return await rollBack(host, settings, report)
        case 'restart':
          return await restartLive(host, settings, report)
        case 'verify':
          return await verifyLive(host, settings, sha, report)
      }
    }
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

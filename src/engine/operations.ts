import * as core from '@actions/core'
import { newDeployContext, type DeployContext } from '../model/context.js'
import type { DeployHost } from './deploy-host.js'
import { hostLabel } from '../inputs/host-address.js'
import { HostStepUnknown } from '../remote/host-step.js'
import { info } from '../report/host-text.js'
import { errorText, PhaseError, runPhase, type PhaseName } from '../model/phase.js'
import { type LockOwner } from '../commands/lock.js'
import { lockOwner } from '../tasks/lock.js'
import { prunes, warnPruneFailed } from '../tasks/prune.js'
import { type HostReleases, type KeptRelease } from '../commands/releases.js'
import { chooseRollback } from '../tasks/releases.js'
import { OverlapFailed, type Restart, type RestartKind } from '../tasks/restart.js'
import { rollsBack } from '../tasks/rollback.js'
import { migrationsKept, rollbackSentence, type RollbackOutcome } from '../model/outcomes.js'
import { UndoneByHost } from '../tasks/watchdog.js'
import { HOST_STEP_PHASES, phaseBudget } from '../model/pipeline.js'
import { dropForPostStep, keepForPostStep, type HeldLock } from '../model/post-state.js'
import type { HostReport } from '../report/report.js'
import { runContext } from '../report/run-context.js'
import type { Operation, Settings } from '../inputs/settings.js'
import { strategyOf } from '../model/strategy.js'
import { commitMatches } from '../remote/version-probe.js'

/** What one operation on one host carries from step to step. */
interface OperationRun {
  readonly host: DeployHost
  readonly settings: Settings
  /** The commit this run was given: a deploy's, or the one a verify expects. */
  readonly sha: string
  readonly report: HostReport
  /** The lock's owner and the post step's entry for it (every operation but verify). */
  owner?: LockOwner
  lock?: HeldLock
  /** What the steps share once there is a release: a deploy's new one, or the one chosen. */
  ctx?: DeployContext
  /** The host's watchdog was armed for the switch. */
  armed: boolean
  /** From the restart on: what it stopped and started, and when the stop was asked for. */
  restart?: Restart
  stopSentAt?: number
  /** Overlap: the old service's retirement began (a failure from then on is not withdrawn). */
  retiring?: true
  /** Overlap: the failed new release was withdrawn; the old service still serves. */
  withdrawn?: true
}

/** An operation once its first step made or chose its release. */
type StartedRun = OperationRun & { ctx: DeployContext }

/** An operation's first step: it makes the release a deploy ships, or chooses the one to act on. */
interface FirstStep {
  readonly phase?: Exclude<PhaseName, 'plan'>
  run(op: OperationRun): Promise<DeployContext>
}

/** One step of an operation: the phase it runs as (its log group, budget and timing), and what it does. */
interface Step {
  /** None: the step times its own phases (the restart's host step) or is part of the one before. */
  readonly phase?: Exclude<PhaseName, 'plan'>
  /** Whether it runs for these settings (absent: always). */
  when?(settings: Settings): boolean
  run(op: StartedRun): Promise<void>
  /** The restart's host step, of this kind: it times its own phases (HOST_STEP_PHASES). */
  readonly hostStep?: RestartKind
  /** Verify passed with it: the operation succeeded, and a later step can only warn. */
  readonly settles?: true
  /** Overlap's retirement of the old service: a host step that times its own phases (stop, wait-for-exit). */
  readonly retires?: true
}

/** What runs after a step failed, in order, before the failure is thrown on. */
interface FailureStep {
  /** The phase it runs as, when it runs one (for the plan; it times it itself). */
  readonly phase?: Exclude<PhaseName, 'plan'>
  /** Returns a failure that says more than `error` (the host undid the release first), if any. */
  run(op: OperationRun, error: unknown): Promise<unknown>
}

/** An operation: its steps in order, whether they run under the deploy lock, and its failure path. */
interface OperationPlan {
  readonly locked: boolean
  readonly first: FirstStep
  readonly steps: readonly Step[]
  readonly onFailure: readonly FailureStep[]
}

/** Runs `body` as `phase` of this host's operation: its log group, its budget, its timing. */
const inPhase = <T>(op: OperationRun, phase: Exclude<PhaseName, 'plan'>, body: () => Promise<T>) =>
  runPhase(
    hostLabel(op.host.address),
    phase,
    phaseBudget(op.settings, phase),
    op.report.phases,
    body
  )

/** The release live before `ctx`'s, to return to when verify fails (none: nothing to return to). */
const fallbackOf = (ctx: DeployContext) =>
  ctx.previousRelease && ctx.previousSha
    ? { release: ctx.previousRelease, sha: ctx.previousSha }
    : undefined

/** Where the post step finds this host's unverified switch. */
const switchOn = (op: OperationRun) => ({
  host: op.host.address.host,
  port: op.host.address.port,
  target: op.host.layout.target
})

/** Saves `release` for the post step as switched to and not yet verified. */
function keepUnverified(
  op: StartedRun,
  release: string,
  sha: string,
  fallback?: { release: string; sha: string }
) {
  const { ctx } = op
  keepForPostStep('unverified', {
    ...switchOn(op),
    username: op.host.address.username,
    startLog: op.host.session.startLog,
    release,
    sha,
    fallback,
    migrated: release === ctx.release && migrates(op.settings) ? true : undefined,
    token: ctx.lockToken,
    run: ctx.run
  })
}

/** A deploy whose migrate-command ran: a rollback past its release says the database keeps them. */
const migrates = (settings: Settings) =>
  settings.operation === 'deploy' && settings.migrateCommand !== undefined

/** The context of an operation on a release already on the host (rollback, restart, verify). */
function keptContext(op: OperationRun, release: KeptRelease, kept: HostReleases): DeployContext {
  const { host, settings, report, owner } = op
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
    session: host.session,
    layout: host.layout,
    report,
    release: release.name,
    releaseDir: strategyOf(settings).keptDir(host.layout, release.name),
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

// The steps. Each asks the host one thing or a few, through DeployHost.

/** A deploy's new release, named now: a run cancelled before its switch leaves it for the post step to remove. */
const newRelease: FirstStep = {
  async run(op) {
    const { host, settings, sha, report } = op
    const owner = op.owner as LockOwner
    const ctx = newDeployContext({
      settings,
      sha,
      label: hostLabel(host.address),
      session: host.session,
      layout: host.layout,
      report,
      run: owner.run,
      lockToken: owner.token
    })
    if (op.lock) {
      op.lock.release = ctx.release
      keepForPostStep('locks', op.lock)
    }
    return ctx
  }
}

const upload: Step = { phase: 'upload', run: op => op.host.upload(op.ctx) }

const prepare: Step = {
  phase: 'prepare',
  async run(op) {
    const ctx = op.ctx
    // Armed first, before a prepare-command can fill the disk: it only writes into the lock.
    op.armed = await op.host.armWatchdog(ctx)
    await op.host.prepare(ctx)
  }
}

const migrate: Step = {
  phase: 'migrate',
  when: settings => settings.migrateCommand !== undefined,
  run: op => op.host.migrate(op.ctx, op.settings.migrateCommand as string)
}

/** The version the old service reports, before anything stops, for allow-downgrade: false. */
const readRunning: Step = {
  when: settings => !settings.allowDowngrade,
  async run(op) {
    op.report.previousVersion = await op.host.runningVersion(op.ctx)
  }
}

/** rollback's choice: the release rollback-to names, or the newest verified one before the live one. */
const chooseRollbackRelease: FirstStep = {
  phase: 'choose',
  async run(op) {
    const kept = await op.host.releases()
    const chosen = chooseRollback(kept, op.settings.rollbackTo)
    info(
      `Rolling back to ${chosen.name} (${chosen.sha})${kept.live ? `; ${kept.live} is live now` : ''}`
    )
    return keptContext(op, chosen, kept)
  }
}

/** The host returns to the release that was live if this run does not confirm the chosen one. */
const armWatchdog: Step = {
  phase: 'choose',
  async run(op) {
    op.armed = await op.host.armWatchdog(op.ctx)
  }
}

/** restart's choice: what is live, as it is. */
const chooseLive: FirstStep = {
  phase: 'choose',
  async run(op) {
    const kept = await op.host.releases()
    const live = liveRelease(kept, op.host.layout)
    info(`Restarting ${live.name} (${live.sha}) as it is`)
    return keptContext(op, live, kept)
  }
}

/**
 * verify's choice, which changes nothing: the live release must be the expected commit and must
 * have passed verify.
 */
const chooseExpected: FirstStep = {
  phase: 'choose',
  async run(op) {
    const kept = await op.host.releases()
    if (kept.lock)
      info(`A deploy holds the lock (${kept.lock}); verify only reads, so it goes on without it`)
    const live = liveRelease(kept, op.host.layout)
    const ctx = keptContext(op, live, kept)
    if (!commitMatches(live.sha, op.sha))
      throw new Error(
        `${live.name} is live with commit ${live.sha}, but ${op.sha} was expected: the host runs another commit than this run checks for`
      )
    if (live.state !== 'verified')
      throw new Error(
        `${live.name} is live with the expected commit ${live.sha}, but it ${live.state === 'bad' ? 'is marked BAD_RELEASE: it failed after a deploy' : 'never passed verify: a deploy was cut off before its check'}`
      )
    return ctx
  }
}

/**
 * stop → wait-for-exit → switch → start as one host step (it times its own phases), saved for the
 * post step until the answer is in; downtime runs from here to the first verified answer.
 */
const restart = (kind: RestartKind): Step => ({
  hostStep: kind,
  async run(op) {
    const ctx = op.ctx
    keepUnverified(op, ctx.release, ctx.sha, kind === 'restart' ? undefined : fallbackOf(ctx))
    op.stopSentAt = Date.now()
    op.restart = await op.host.restart(ctx, op.report.phases, op.armed, kind)
    if (op.settings.holdPorts) op.report.heldPorts = op.settings.listen
  }
})

/**
 * Overlap (README, "Overlap"): the new release answers with the commit and holds every port beside
 * the old service, which still serves. A restart that could not overlap (no port holder yet) has
 * nothing to do here.
 */
const verifyBeside: Step = {
  phase: 'verify',
  when: settings => settings.overlap,
  async run(op) {
    if (!op.restart?.overlap) return
    await op.host.verify(op.ctx, op.restart, op.report.previousVersion)
  }
}

/** Overlap: the old service stops (its stop-command, SIGTERM, wait-for-exit), the new one spared. */
const retire: Step = {
  when: settings => settings.overlap,
  retires: true,
  async run(op) {
    if (!op.restart?.overlap) return
    op.retiring = true
    op.restart = await op.host.retire(op.ctx, op.restart, op.report.phases)
  }
}

/** The new service reports the commit, still does once the session ends where logind would stop it, and is confirmed. */
const verify: Step = {
  phase: 'verify',
  settles: true,
  async run(op) {
    const ctx = op.ctx
    const { host, report } = op
    const answer = await host.verify(ctx, op.restart as Restart, report.previousVersion)
    // Before the confirm: a service that stops with the session fails verify like any other.
    if (host.session.stopsAtLogout) await host.verifyAfterLogout(ctx)
    await host.confirm(ctx)
    dropForPostStep('unverified', switchOn(op))
    report.reportedVersion = answer.version ?? answer.commit
    const gone = op.restart?.stopped.gone
    if (op.restart?.overlap) report.overlapped = true
    if (gone === undefined) report.nothingStopped = true
    else
      report.downtimeSeconds =
        answer.answeredOnHost !== undefined
          ? // As clients saw it, on the host: from the old service gone to the new one's answer.
            Math.max(0, answer.answeredOnHost - gone)
          : // No answer seen on the host (no Python there): the runner's bound, stop to answer.
            (answer.firstAnsweredAt - (op.stopSentAt as number)) / 1000
  }
}

/** verify, the operation: the live release's service answers with its commit now. */
const verifyLive: Step = {
  phase: 'verify',
  settles: true,
  async run(op) {
    const answer = await op.host.verifyLive(op.ctx)
    op.report.reportedVersion = answer.version ?? answer.commit
  }
}

/** Verify passed: what is left can only warn. */
const prune: Step = {
  phase: 'prune',
  when: prunes,
  run: op =>
    op.host.prune(op.ctx).catch(error => warnPruneFailed(hostLabel(op.host.address), error))
}

// The failure path.

/**
 * A failure from the restart on: the same steps toward the release that was live (host.rollback),
 * as rollsBack decides; or, where the host's watchdog decided first, what it did. The switch is
 * forgotten by the post step once this is done.
 */
const rollBack: FailureStep = {
  phase: 'rollback',
  async run(op, error) {
    const { ctx } = op
    if (op.stopSentAt === undefined || !ctx || op.withdrawn) return undefined
    const { report, settings } = op
    const migrated = migrates(settings) ? ctx.release : undefined
    try {
      if (error instanceof UndoneByHost) {
        // The host's watchdog decided (this runner froze past its budget): its message is the
        // whole story, no separate rollback outcome to repeat it.
        report.rolledBack = error.undo.undone
        if (migrated && error.undo.undone) report.rollbackOutcome = migrationsKept(migrated)
        return undefined
      }
      // A step killed halfway, or one whose end was not read: what serves is no known state.
      const killed = error instanceof HostStepUnknown
      if (!(error instanceof PhaseError) || !rollsBack(settings, { phase: error.phase, killed }))
        return undefined
      const fallback = fallbackOf(ctx)
      if (fallback) keepUnverified({ ...op, ctx }, fallback.release, fallback.sha)
      else dropForPostStep('unverified', switchOn(op))
      const outcome = await inPhase(op, 'rollback', () =>
        op.host.rollback(ctx, error.detail)
      ).catch((rollbackError: unknown): RollbackOutcome => ({
        kind: 'not-run',
        error: rollbackError instanceof PhaseError ? rollbackError.detail : errorText(rollbackError)
      }))
      if (outcome.kind === 'restored')
        report.downtimeSeconds = (outcome.servingSince - (op.stopSentAt as number)) / 1000
      const sentence = rollbackSentence(outcome, migrated)
      // The host undid the release while this run was cut off: that is what happened, said first;
      // what verify saw (the old release answering again) follows.
      if (outcome.kind === 'by-host')
        return new PhaseError(
          error.host,
          error.phase,
          `${sentence} What this run saw before it knew: ${error.detail}`
        )
      // Reported beside the failure (the annotation, the summary), not inside its text.
      report.rollbackOutcome = sentence
      return undefined
    } finally {
      dropForPostStep('unverified', switchOn(op))
    }
  }
}

/**
 * Overlap, a failure before the old service's retirement began (the new release's start, or its
 * answer beside the old one): the new release is withdrawn and the old service, never stopped,
 * goes on serving; nothing is rolled back. Whatever rollback-on-failure says: two instances are
 * never left serving.
 */
const withdrawNew: FailureStep = {
  // Times itself as rollback; not in the plan, where only overlap would run it.
  async run(op, error) {
    const { ctx } = op
    const restart = error instanceof OverlapFailed ? error.restart : op.restart
    if (!ctx || !restart?.overlap || restart.overlap.retired || op.retiring) return undefined
    try {
      const detail = error instanceof PhaseError ? error.detail : errorText(error)
      const outcome = await inPhase(op, 'rollback', () =>
        op.host.withdraw(ctx, restart, detail)
      ).catch((withdrawError: unknown): RollbackOutcome => ({
        kind: 'not-run',
        error: withdrawError instanceof PhaseError ? withdrawError.detail : errorText(withdrawError)
      }))
      op.withdrawn = true
      op.report.rollbackOutcome = rollbackSentence(outcome)
      return undefined
    } finally {
      dropForPostStep('unverified', switchOn(op))
    }
  }
}

/** A restart of the live release has no other release to return to: the post step forgets its switch. */
const forgetSwitch: FailureStep = {
  async run(op) {
    if (op.stopSentAt !== undefined) dropForPostStep('unverified', switchOn(op))
    return undefined
  }
}

/** A failed deploy leaves no release of its own behind once it is not live. */
const discard: FailureStep = {
  async run(op) {
    const { ctx, host, settings, report } = op
    if (!ctx || !strategyOf(settings).keepsReleases) return
    await host
      .discard(ctx)
      .then(removed => {
        if (removed) info(`Removed the failed release ${ctx.release}`)
        report.releaseRemoved = removed || undefined
      })
      .catch(discardError =>
        core.warning(
          `Could not remove the failed release ${ctx.release} on ${hostLabel(host.address)}: ${errorText(discardError)}`
        )
      )
  }
}

/**
 * Each operation's steps, in the order they run (DESIGN, "Operations"): the same restart host step,
 * lock and verify; a rollback and a restart choose what is live instead of uploading, and a verify
 * changes nothing. A failure past the switch takes the same steps toward the release that was live.
 */
export const OPERATIONS: Record<Operation, OperationPlan> = {
  deploy: {
    locked: true,
    first: newRelease,
    steps: [
      upload,
      prepare,
      migrate,
      readRunning,
      restart('deploy'),
      verifyBeside,
      retire,
      verify,
      prune
    ],
    onFailure: [withdrawNew, rollBack, discard]
  },
  rollback: {
    locked: true,
    first: chooseRollbackRelease,
    steps: [armWatchdog, restart('rollback'), verifyBeside, retire, verify],
    onFailure: [withdrawNew, rollBack]
  },
  restart: {
    locked: true,
    first: chooseLive,
    steps: [restart('restart'), verifyBeside, retire, verify],
    onFailure: [withdrawNew, forgetSwitch]
  },
  verify: { locked: false, first: chooseExpected, steps: [verifyLive], onFailure: [] }
}

/**
 * The phases `operation` runs, as its declared steps name them: connect, the lock where it takes
 * one, each step's phase (the host step's own, a restart of the live release without a switch), then
 * its failure path's. The dry-run plan lists them.
 */
export function operationPhases(operation: Operation): PhaseName[] {
  const { locked, first, steps, onFailure } = OPERATIONS[operation]
  const phases: PhaseName[] = [
    'connect',
    ...(locked ? (['lock'] as const) : []),
    ...(first.phase ? [first.phase] : []),
    ...steps.flatMap((step): PhaseName[] =>
      step.hostStep
        ? HOST_STEP_PHASES.filter(phase => step.hostStep !== 'restart' || phase !== 'switch')
        : step.retires
          ? []
          : step.phase
            ? [step.phase]
            : []
    ),
    ...onFailure.flatMap((step): PhaseName[] => (step.phase ? [step.phase] : []))
  ]
  return phases.filter((phase, index) => phases.indexOf(phase) === index)
}

/**
 * Takes the deploy lock, keeps it beating while `work` runs, and releases it on every path; the
 * post step releases it if this run cannot.
 */
async function underLock(op: OperationRun, work: () => Promise<void>): Promise<void> {
  const { host, settings, sha } = op
  const { address, layout } = host
  const owner = lockOwner(
    settings.operation === 'deploy' ? sha : settings.operation,
    runContext().runUrl
  )
  const lock: HeldLock = {
    host: address.host,
    port: address.port,
    username: address.username,
    lockDir: layout.lockDir,
    restartLog: layout.restartLog,
    token: owner.token
  }
  op.owner = owner
  op.lock = lock
  // Recorded before taking it: the release only removes a lock holding this token, and a run
  // cancelled right after mkdir must still leave the post step something to release.
  keepForPostStep('locks', lock)
  let heartbeat: { stop(): void } | undefined
  try {
    await inPhase(op, 'lock', () => host.lock(owner))
    // While it beats, no other deploy takes the lock; once this runner dies or freezes, one may.
    heartbeat = host.heartbeat(owner.token)
    await work()
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
          `Could not release ${layout.lockDir} on ${hostLabel(address)}: ${errorText(error)}. The post step will retry.`
        )
      )
  }
}

/**
 * Runs the operation the settings name on one host: its declared steps in order (under the lock
 * where it takes one), and on a failure its failure path, then the failure.
 */
export async function runOperation(
  host: DeployHost,
  settings: Settings,
  sha: string,
  report: HostReport
): Promise<void> {
  const plan = OPERATIONS[settings.operation]
  const op: OperationRun = { host, settings, sha, report, armed: false }
  const steps = async () => {
    try {
      const { first } = plan
      const ctx = await (first.phase
        ? inPhase(op, first.phase, () => first.run(op))
        : first.run(op))
      const started = Object.assign(op, { ctx })
      for (const step of plan.steps) {
        if (step.when && !step.when(settings)) continue
        const phase = step.phase
        await (phase ? inPhase(op, phase, () => step.run(started)) : step.run(started))
        if (step.settles) report.result = 'success'
      }
    } catch (error) {
      let failure = error
      for (const step of plan.onFailure) failure = (await step.run(op, failure)) ?? failure
      throw failure
    }
  }
  await (plan.locked ? underLock(op, steps) : steps())
}

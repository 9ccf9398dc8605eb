/**
 * A host for the flow's fast tests: it implements DeployHost (src/engine/deploy-host.ts) without a network,
 * records each verb it is asked, and fails a verb where a test says so.
 */
import type { DeployContext } from '../../src/model/context.js'
import type { DeployHost } from '../../src/engine/deploy-host.js'
import { hostLabel, type HostAddress } from '../../src/inputs/host-address.js'
import { remoteLayout } from '../../src/remote/layout.js'
import { PhaseError, type PhaseName, type PhaseTiming } from '../../src/model/phase.js'
import { HOST_STEP_PHASES } from '../../src/model/pipeline.js'
import type { HostSession } from '../../src/remote/host-session.js'
import type { HostReleases } from '../../src/commands/releases.js'
import { OverlapFailed, type Restart, type RestartKind } from '../../src/tasks/restart.js'
import type { RollbackOutcome } from '../../src/model/outcomes.js'
import type { VersionReport } from '../../src/tasks/verify.js'
import type { HostUndo } from '../../src/commands/watchdog.js'
import { stepOutcome, type HostStepReader } from '../../src/remote/host-step.js'
import type { HeldLock } from '../../src/model/post-state.js'

export type Verb = Exclude<keyof DeployHost, 'address' | 'layout' | 'session'>

/** How a test shapes the fake: what fails, and what the host holds. */
export interface FakeHostOptions {
  /** verb → what it throws (a function: built when the verb is asked, from its context). */
  fail?: Partial<Record<Verb, Error | ((ctx?: DeployContext) => Error)>>
  /** The release live before the deploy, as upload finds it. */
  previous?: { release: string; sha: string }
  /** What the old service reports before anything stops. */
  runningVersion?: string
  /** Whether the watchdog can be armed. */
  armed?: boolean
  /**
   * What a rollback does: returns to the fallback (default), only says it could not, or finds that
   * the host's watchdog undid the release already (`by-host`).
   */
  rollback?: 'verified' | 'nothing' | 'by-host'
  /** The releases on the host (rollback, restart, verify): default, an older and a live one. */
  kept?: HostReleases
  /** logind stops the user's processes at logout there (connect found it). */
  stopsAtLogout?: true
  /** A verb that never returns: the run is cut off there (a cancelled or killed main step). */
  hang?: Verb
  /** What the host's watchdog did, as its journal says (the post step reads it first). */
  undone?: HostUndo
  /** The restart log the post step reads (support/step-log.ts); default: nothing written. */
  restartLog?: string
  /** Overlap: what verify throws while the old service still serves (`fail.verify` fails every verify). */
  failBeside?: Error
}

/** Two releases, both verified; the newer one live. */
export const KEPT: HostReleases = {
  live: '20261201T000000Z-bbbbbbb',
  releases: [
    { name: '20261130T000000Z-aaaaaaa', state: 'verified', sha: 'a'.repeat(40) },
    { name: '20261201T000000Z-bbbbbbb', state: 'verified', sha: 'b'.repeat(40) }
  ]
}

export const TARGET = '/srv/app'

/**
 * The host step's phases for a restart of `kind`: a restart of the live release has no switch, and
 * overlap starts beside the old service, stopping nothing.
 */
const stepPhases = (kind: RestartKind, overlap = false): readonly PhaseName[] =>
  HOST_STEP_PHASES.filter(
    phase =>
      (kind !== 'restart' || phase !== 'switch') &&
      (!overlap || (phase !== 'stop' && phase !== 'wait-for-exit'))
  )

export class FakeHost implements DeployHost {
  readonly layout = remoteLayout(TARGET)
  readonly session: HostSession
  /** Each verb asked, in order; the restart's entry names the watchdog (`restart+watchdog`). */
  readonly calls: string[] = []
  private readonly label: string

  constructor(
    readonly address: HostAddress,
    private readonly options: FakeHostOptions = {}
  ) {
    this.label = hostLabel(address)
    this.session = {
      address,
      target: TARGET,
      remote: undefined as never,
      hostKeyReason: 'fake',
      stopsAtLogout: options.stopsAtLogout,
      close: () => undefined
    }
  }

  /** Records `verb` and throws if the test made it fail; never returns where the run is cut off. */
  private ask(verb: Verb, ctx?: DeployContext, record: string = verb): Promise<void> {
    this.calls.push(record)
    const failure = this.options.fail?.[verb]
    if (failure) throw typeof failure === 'function' ? failure(ctx) : failure
    return this.options.hang === verb ? new Promise(() => undefined) : Promise.resolve()
  }

  /** A failure of the restart's host step in `phase`, as runHostStep reports one. */
  stepFailure(phase: PhaseName, detail = `${phase} failed`): PhaseError {
    return new PhaseError(this.label, phase, detail)
  }

  async lock(): Promise<void> {
    await this.ask('lock')
  }

  heartbeat(): { stop(): void } {
    void this.ask('heartbeat')
    return { stop: () => this.calls.push('heartbeat stopped') }
  }

  async upload(ctx: DeployContext): Promise<void> {
    await this.ask('upload', ctx)
    ctx.previousRelease = this.options.previous?.release
    ctx.previousSha = this.options.previous?.sha
  }

  async armWatchdog(ctx: DeployContext): Promise<boolean> {
    await this.ask('armWatchdog', ctx)
    return this.options.armed ?? true
  }

  async prepare(ctx: DeployContext): Promise<void> {
    await this.ask('prepare', ctx)
  }

  async migrate(ctx: DeployContext, command: string): Promise<void> {
    await this.ask('migrate', ctx, `migrate (${command})`)
  }

  async runningVersion(ctx: DeployContext): Promise<string | undefined> {
    await this.ask('runningVersion', ctx)
    return this.options.runningVersion
  }

  async releases(): Promise<HostReleases> {
    await this.ask('releases')
    return this.options.kept ?? KEPT
  }

  async verifyLive(ctx: DeployContext): Promise<VersionReport> {
    await this.ask('verifyLive', ctx)
    return { commit: ctx.sha, version: '2.0.0', firstAnsweredAt: Date.now() }
  }

  /** The host step's phases, timed as runHostStep times them: up to the one that failed. */
  async restart(
    ctx: DeployContext,
    timings: PhaseTiming[],
    watchdog: boolean,
    kind: RestartKind = 'deploy'
  ): Promise<Restart> {
    const startedAt = Date.now()
    const time = (phases: readonly PhaseName[], failed?: PhaseName) => {
      for (const phase of phases)
        timings.push({ phase, startedAt, seconds: 0, ok: phase !== failed })
    }
    const overlap = ctx.settings.overlap
    try {
      await this.ask(
        'restart',
        ctx,
        `restart${kind === 'deploy' ? '' : ` (${kind} to ${ctx.release})`}${overlap ? ' beside the old service' : ''}${watchdog ? '+watchdog' : ''}`
      )
    } catch (error) {
      const failed = error instanceof PhaseError ? error.phase : overlap ? 'start' : 'stop'
      const phases = stepPhases(kind, overlap)
      time(phases.slice(0, phases.indexOf(failed) + 1), failed)
      // As restartService reports a failed overlap step: with what to withdraw.
      if (overlap && error instanceof PhaseError)
        throw new OverlapFailed(this.label, error.phase, error.detail, {
          stopped: { mark: 1 },
          started: {},
          overlap: { retired: false }
        })
      throw error
    }
    time(stepPhases(kind, overlap))
    // Overlap stops nothing yet; else the old service is gone at host uptime 1000 s (verify's
    // answer comes 2.5 s later).
    return overlap
      ? { stopped: { mark: 1 }, started: {}, overlap: { retired: false } }
      : { stopped: { mark: 1, gone: 1000 }, started: {} }
  }

  /** Overlap's retirement: stop and wait-for-exit, timed; the old service gone at uptime 1000 s. */
  async retire(ctx: DeployContext, restart: Restart, timings: PhaseTiming[]): Promise<Restart> {
    const startedAt = Date.now()
    try {
      await this.ask('retire', ctx)
    } catch (error) {
      const failed = error instanceof PhaseError ? error.phase : 'stop'
      timings.push({ phase: 'stop', startedAt, seconds: 0, ok: failed !== 'stop' })
      if (failed === 'wait-for-exit')
        timings.push({ phase: failed, startedAt, seconds: 0, ok: false })
      throw error
    }
    for (const phase of ['stop', 'wait-for-exit'] as const)
      timings.push({ phase, startedAt, seconds: 0, ok: true })
    return { ...restart, stopped: { mark: 1, gone: 1000 }, overlap: { retired: true } }
  }

  async withdraw(ctx: DeployContext, _restart: Restart, failure: string): Promise<RollbackOutcome> {
    await this.ask('withdraw', ctx, `withdraw (${failure})`)
    ctx.report.rolledBack = true
    return { kind: 'withdrawn', release: ctx.previousRelease, sha: ctx.previousSha }
  }

  async verify(ctx: DeployContext, restart: Restart, previous?: string): Promise<VersionReport> {
    const beside = restart.overlap && !restart.overlap.retired ? ' beside the old service' : ''
    await this.ask('verify', ctx, `verify${beside}${previous ? ` (previous ${previous})` : ''}`)
    if (beside && this.options.failBeside) throw this.options.failBeside
    return {
      commit: ctx.sha,
      version: '2.0.0',
      firstAnsweredAt: Date.now() + 2500,
      // With overlap, the new release answered (uptime 999 s) before the old one was gone.
      answeredOnHost: restart.overlap ? 999 : 1002.5
    }
  }

  async verifyAfterLogout(ctx: DeployContext): Promise<void> {
    await this.ask('verifyAfterLogout', ctx)
  }

  async confirm(ctx: DeployContext): Promise<void> {
    await this.ask('confirm', ctx)
  }

  async rollback(ctx: DeployContext, failure: string): Promise<RollbackOutcome> {
    await this.ask('rollback', ctx, `rollback (${failure})`)
    if (this.options.rollback === 'nothing')
      return { kind: 'nothing', why: 'no release was live before this deploy' }
    if (this.options.rollback === 'by-host') {
      ctx.report.rolledBack = true
      return { kind: 'by-host', undone: true, text: `The host undid ${ctx.release} by itself.` }
    }
    ctx.report.rolledBack = true
    return {
      kind: 'restored',
      release: ctx.previousRelease ?? '',
      sha: ctx.previousSha ?? '',
      which: 'live',
      servingSince: Date.now() + 4000
    }
  }

  async prune(ctx: DeployContext): Promise<void> {
    await this.ask('prune', ctx)
  }

  async discard(ctx: DeployContext, madeBy?: string): Promise<boolean> {
    await this.ask(
      'discard',
      ctx,
      `discard ${ctx.release}${madeBy ? ' (if the journal says so)' : ''}`
    )
    return true
  }

  async releaseLock(lock: HeldLock, postStep?: boolean): Promise<string> {
    await this.ask('releaseLock', undefined, postStep ? 'releaseLock (post step)' : 'releaseLock')
    return `Released ${lock.lockDir}`
  }

  async undoneByHost(): Promise<HostUndo | undefined> {
    await this.ask('undoneByHost')
    return this.options.undone
  }

  async awaitStep(): Promise<HostStepReader> {
    await this.ask('awaitStep')
    return stepOutcome(this.options.restartLog ?? '')
  }

  close(): void {
    this.calls.push('close')
  }
}

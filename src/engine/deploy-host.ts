import { info } from '../report/host-text.js'
import type { DeployContext } from '../model/context.js'
import type { HostAddress } from '../inputs/host-address.js'
import type { RemoteLayout } from '../remote/layout.js'
import { remoteLayout } from '../remote/layout.js'
import type { PhaseTiming } from '../model/phase.js'
import { connect, reconnect } from '../tasks/connect.js'
import type { HostSession } from '../remote/host-session.js'
import { releaseLockScript, type LockOwner } from '../commands/lock.js'
import { acquireLock, releaseOutcome, startHeartbeat } from '../tasks/lock.js'
import { migrate } from '../tasks/migrate.js'
import { prepare } from '../tasks/prepare.js'
import { discardRelease, prune } from '../tasks/prune.js'
import { awaitStepScript, stepOutcome, type HostStepReader } from '../remote/host-step.js'
import { parseReleases, releasesScript, type HostReleases } from '../commands/releases.js'
import { STAY } from '../commands/restart.js'
import {
  holderReady,
  restartService,
  retireService,
  type Restart,
  type RestartKind
} from '../tasks/restart.js'
import { switchBackScript } from '../commands/fallback.js'
import { rollback, withdraw } from '../tasks/rollback.js'
import type { RollbackOutcome } from '../model/outcomes.js'
import { switchBody } from '../commands/switch.js'
import { upload } from '../tasks/upload.js'
import {
  runningVersion,
  verifyAfterLogout,
  verifyAnswer,
  verifyService,
  type VersionReport
} from '../tasks/verify.js'
import { launchWatchdogScript, type HostUndo } from '../commands/watchdog.js'
import { armWatchdog, decide, hostUndo } from '../tasks/watchdog.js'
import type { HeldLock } from '../model/post-state.js'
import type { Settings } from '../inputs/settings.js'
import { COMMAND_SECONDS, phaseBudgets, STEP_WAIT_SECONDS } from '../model/budgets.js'

/**
 * What an operation asks of one host, verb by verb: the main step in the order its declared steps
 * asks it, and the post step (post-step.ts) as it finishes what a cut-off run left. The SSH
 * implementation below runs the phases' scripts; the tests' fake one (__tests__/support/fake-host.ts)
 * records the calls and fails where a test says, so the flows' decisions are tested in milliseconds.
 */
export interface DeployHost {
  readonly address: HostAddress
  /** Where the deploy's files are on the host (the target with `~/` resolved). */
  readonly layout: RemoteLayout
  /** The session the phases run on; their context carries it. */
  readonly session: HostSession
  /** Takes the deploy lock, waiting up to lock-timeout. */
  lock(owner: LockOwner): Promise<void>
  /** Keeps the lock alive until stopped. */
  heartbeat(token: string): { stop(): void }
  /** Sends the tree (upload). */
  upload(ctx: DeployContext): Promise<void>
  /** Arms the host's watchdog (false: it could not be armed, and the run goes on without it). */
  armWatchdog(ctx: DeployContext): Promise<boolean>
  /** stamp, shared paths, bytecode, venv, prepare-command, import check. */
  prepare(ctx: DeployContext): Promise<void>
  /** The migrate-command, in the new release, before anything stops. */
  migrate(ctx: DeployContext, command: string): Promise<void>
  /** The version the service reports now, before anything stops. */
  runningVersion(ctx: DeployContext): Promise<string | undefined>
  /** What is live, what is kept, who holds the lock (rollback, restart, verify). */
  releases(): Promise<HostReleases>
  /**
   * stop → wait-for-exit → switch → start as one host step, launching the watchdog if armed; with
   * overlap (once the port holder holds every port), switch → start beside the old service.
   */
  restart(
    ctx: DeployContext,
    timings: PhaseTiming[],
    watchdog: boolean,
    kind?: RestartKind
  ): Promise<Restart>
  /** Overlap: the old service's stop and wait-for-exit, the new one spared, once it answered. */
  retire(ctx: DeployContext, restart: Restart, timings: PhaseTiming[]): Promise<Restart>
  /** Overlap: a failed new release withdrawn (stopped, the old release live again); the old one never stopped. */
  withdraw(ctx: DeployContext, restart: Restart, failure: string): Promise<RollbackOutcome>
  /** The live release's service answers with its commit now (operation verify). */
  verifyLive(ctx: DeployContext): Promise<VersionReport>
  /** The new service reports the commit (verify). */
  verify(ctx: DeployContext, restart: Restart, previousVersion?: string): Promise<VersionReport>
  /**
   * The service still answers once the action's SSH session has ended (asked over a new one),
   * where logind stops a user's processes at logout (session.stopsAtLogout).
   */
  verifyAfterLogout(ctx: DeployContext): Promise<void>
  /** Confirms the release to the watchdog; throws UndoneByHost if the host undid it already. */
  confirm(ctx: DeployContext): Promise<void>
  /** Returns to the last verified release: how that went, and when it answered again. */
  rollback(ctx: DeployContext, failure: string): Promise<RollbackOutcome>
  prune(ctx: DeployContext): Promise<void>
  /**
   * Removes the run's release once it is not live (after a failure); whether it did. The post step
   * names the run's lock token (`madeBy`): the release goes only where the host's journal says that
   * run uploaded it.
   */
  discard(ctx: DeployContext, madeBy?: string): Promise<boolean>
  /**
   * Releases the lock once no host step writes its restart log; what was released, in words. From
   * the post step (`postStep`), the run's release goes with it only where the journal says it is the run's.
   */
  releaseLock(lock: HeldLock, postStep?: boolean): Promise<string>
  /** What the host's watchdog did to the run's `release`, from its journal (none: nothing yet). */
  undoneByHost(token: string, release: string): Promise<HostUndo | undefined>
  /** Waits for the host step writing `outFile` to end (up to STEP_WAIT_SECONDS), and reads it. */
  awaitStep(outFile: string): Promise<HostStepReader>
  close(): void
}

/** Connects to a host: the connect phase of the main step, or the post step's own connection. */
export type OpenHost = (
  address: HostAddress,
  settings: Settings,
  phase?: 'connect' | 'post'
) => Promise<DeployHost>

export const openSshHost: OpenHost = async (address, settings, phase) =>
  sshHost(await connect(address, settings, phase), settings)

/** The host over SSH: each verb runs its phase's scripts on the session, reconnecting where a verb may follow a cut. */
export function sshHost(session: HostSession, settings: Settings): DeployHost {
  const layout = remoteLayout(session.target, session.startLog)
  return {
    address: session.address,
    layout,
    session,
    lock: owner =>
      acquireLock(
        session.remote,
        layout,
        owner,
        settings.lockTimeoutSeconds,
        session.address.username
      ),
    heartbeat: token => startHeartbeat(session, layout, token),
    upload,
    armWatchdog,
    prepare,
    migrate,
    runningVersion,
    releases: async () =>
      parseReleases(
        (
          await session.remote.run(releasesScript(settings, layout.target), {
            phase: 'choose',
            timeoutSeconds: COMMAND_SECONDS.quick
          })
        ).stdout
      ),
    restart: async (ctx, timings, watchdog, kind = 'deploy') => {
      const overlap = settings.overlap && (await holderReady(ctx))
      if (settings.overlap && !overlap)
        info(
          `overlap: the port holder does not hold ${settings.listen.join(', ')} yet (the first deploy with hold-ports), so this restart stops the old service first`
        )
      return restartService(
        ctx,
        kind === 'restart'
          ? STAY
          : kind === 'rollback'
            ? switchBackScript(
                { ...ctx, release: ctx.previousRelease ?? '' },
                { release: ctx.release, sha: ctx.sha, how: 'verified' },
                `operation rollback${settings.rollbackTo ? ` to ${settings.rollbackTo}` : ''}`,
                'runner'
              )
            : switchBody(ctx, ctx.lockToken),
        timings,
        watchdog ? launchWatchdogScript(ctx) : undefined,
        { shape: overlap ? 'overlap' : 'restart' }
      )
    },
    retire: (ctx, restart, timings) => retireService(ctx, restart, timings),
    withdraw: async (ctx, restart, failure) => {
      await reconnect(session, settings, 'rollback')
      return withdraw(ctx, restart, failure)
    },
    verifyLive: ctx => verifyAnswer(ctx, ctx.sha),
    verify: (ctx, restart, previousVersion) =>
      verifyService(ctx, ctx.sha, restart, previousVersion),
    verifyAfterLogout: ctx => verifyAfterLogout(ctx, ctx.sha),
    confirm: ctx => decide(ctx, 'confirmed'),
    rollback: async (ctx, failure) => {
      await reconnect(session, settings, 'rollback')
      return rollback(ctx, failure)
    },
    prune,
    discard: async (ctx, madeBy) => {
      await reconnect(session, settings, 'prune')
      return discardRelease(ctx, madeBy)
    },
    releaseLock: async (lock, postStep) => {
      const release = (on: HostSession) =>
        on.remote
          .run(releaseLockScript(lock, postStep), {
            phase: 'lock',
            timeoutSeconds: phaseBudgets(settings).lockRelease
          })
          .then(result => releaseOutcome(lock, result.stdout))
      try {
        return await release(session)
      } catch {
        // The connection it was taken on is gone: a new one.
        const fresh = await connect(session.address, settings, 'lock')
        try {
          return await release(fresh)
        } finally {
          fresh.close()
        }
      }
    },
    undoneByHost: (token, release) => hostUndo(session.remote, layout, token, release),
    awaitStep: async outFile =>
      stepOutcome(
        (
          await session.remote.run(awaitStepScript(outFile, STEP_WAIT_SECONDS), {
            phase: 'post',
            timeoutSeconds: COMMAND_SECONDS.stepWait
          })
        ).stdout
      ),
    close: () => session.close()
  }
}

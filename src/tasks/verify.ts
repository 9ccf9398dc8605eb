import semver from 'semver'
import type { DeployContext } from '../model/context.js'
import { lookup } from 'node:dns/promises'
import { isLoopback, listenAddresses, sameAddress } from '../remote/listen-address.js'
import {
  answerValue,
  commitMatches,
  defaultPort,
  fetchVersion,
  readCommit,
  type VersionAnswer
} from '../remote/version-probe.js'
import { errorText } from '../model/phase.js'
import { reconnect, renew } from './connect.js'
import { bothServe, type Restart } from './restart.js'
import { info } from '../report/host-text.js'
import { COMMAND_SECONDS } from '../model/budgets.js'
import {
  diagnosticsScript,
  serviceIdentityScript,
  Probe,
  newServiceScript,
  readAlive,
  readServiceIdentity,
  readUrlHost,
  urlHostScript,
  type Identity
} from '../commands/verify.js'

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

export interface VersionReport {
  commit: string
  version?: string
  /** When the first answer reporting the new commit arrived (ms since the epoch). */
  firstAnsweredAt: number
  /** When the new service first answered, seen from the host every 10 ms (host uptime, s). */
  answeredOnHost?: number
}

/** What one poll saw, in words, plus the commit when it read one. */
interface Poll {
  /** With a matching answer: when the host saw the new service's first answer (uptime, s). */
  answered?: number
  answer: VersionAnswer
  /** When the answer arrived (ms since the epoch). */
  at: number
  commit?: string
  version?: string
  problem?: string
}

/** Resolves the URL's host once (on the host, or on the runner) and tells whether it is this host. */
export async function probeFor(ctx: DeployContext): Promise<Probe> {
  const { settings, session } = ctx
  const url = settings.versionUrl
  const name = url.hostname.replace(/^\[|\]$/g, '')
  const port = defaultPort(url)
  // ports that list only other ports: the URL's listener is a proxy, and they carry the check.
  const checked = settings.ports.length === 0 || settings.ports.includes(port)
  const { stdout } = await session.remote.run(urlHostScript(name), {
    phase: 'verify',
    timeoutSeconds: COMMAND_SECONDS.ask
  })
  const onHost = readUrlHost(stdout)
  const ours = (address: string) => onHost.locals.some(local => sameAddress(local, address))
  if (settings.versionCheckFrom === 'host') {
    const address = onHost.address
    if (!address) return {}
    const here = isLoopback(address) || ours(address)
    return {
      address,
      listener: here && checked ? { port, ...listenAddresses(address) } : undefined
    }
  }
  const address = await lookup(name).then(
    found => found.address,
    () => undefined
  )
  if (!address) return {}
  // The runner reaches this host by the address it connected to, or by one of the host's own.
  const here = ours(address) || name === session.address.host
  return { address, listener: here && checked ? { port, exact: [], any: ['*'] } : undefined }
}

async function poll(ctx: DeployContext, probe: Probe = {}): Promise<Poll> {
  const { settings } = ctx
  const via = settings.versionCheckFrom === 'host' ? ctx.session.remote.client : undefined
  const answer = await fetchVersion(settings.versionUrl, via, probe.address)
  const at = Date.now()
  if (answer.error)
    return {
      answer,
      at,
      problem: answer.status ? answer.error : `no HTTP answer (${answer.error})`
    }
  if (!answer.status || answer.status < 200 || answer.status > 299)
    return { answer, at, problem: `HTTP ${answer.status}` }
  if (answer.truncated)
    return {
      answer,
      at,
      problem:
        'the body is over 1 MB; answer with a small JSON or plain-text body that holds the commit'
    }
  const reading = readCommit(answer.body, settings.versionField)
  if ('problem' in reading) return { answer, at, problem: reading.problem }
  return { answer, at, commit: reading.commit, version: reading.version }
}

function trimmed(body: string): string {
  return answerValue(body, 500) || '(empty)'
}

async function failure(
  ctx: DeployContext,
  restart: Restart,
  sha: string,
  summary: string,
  last: Poll | undefined
): Promise<Error> {
  const { settings, session, layout } = ctx
  const lines = [
    `${settings.versionUrl.href} (requested from the ${settings.versionCheckFrom}) ${summary}.`,
    `Expected commit: ${sha}`,
    `Last reported: ${last?.commit ?? '(nothing)'}${last?.problem ? ` - ${last.problem}` : ''}`
  ]
  if (last?.answer.status !== undefined)
    lines.push(`Last response: HTTP ${last.answer.status} ${trimmed(last.answer.body)}`)
  const diagnostics = await session.remote
    .run(diagnosticsScript(layout.startLog, restart.started.logHeader, settings.ports), {
      phase: 'verify',
      timeoutSeconds: COMMAND_SECONDS.ask,
      allowFailure: true
    })
    .then(result => result.stdout.trimEnd())
    .catch(error => `(could not collect diagnostics: ${(error as Error).message})`)
  return new Error(`${lines.join('\n')}\n${diagnostics}`)
}

/** Milliseconds between the progress lines of a long verify. */
const PROGRESS_MS = 5000

/** One poll in words, for a progress line. */
/** The poll reports `sha`. */
const answers = (poll: Poll, sha: string): poll is Poll & { commit: string } =>
  poll.commit !== undefined && commitMatches(poll.commit, sha)

function describePoll(poll: Poll): string {
  if (poll.commit) return `${poll.commit}${poll.problem ? ` (${poll.problem})` : ''}`
  return poll.problem ?? '(none)'
}

/** Poll fast while a quick service comes up, then back off to once a second. */
export function pollDelayMs(elapsedMs: number): number {
  if (elapsedMs < 5000) return 50
  if (elapsedMs < 15_000) return 250
  return 1000
}

/** What the port check after a matching answer found. */
async function checkIdentity(
  ctx: DeployContext,
  restart: Restart,
  sha: string,
  probe: Probe,
  quiet = false
): Promise<Identity> {
  const { settings, session, layout } = ctx
  const { stdout } = await session.remote.run(
    serviceIdentityScript({
      target: layout.target,
      stateFile: layout.stateFile,
      ports: settings.ports,
      mark: restart.stopped.mark,
      release: ctx.release,
      sha,
      listener: probe.listener,
      overlap: bothServe(restart)
    }),
    { phase: 'verify', timeoutSeconds: COMMAND_SECONDS.ask }
  )
  const { recorded, ...identity } = readServiceIdentity(stdout)
  if (recorded !== undefined && !quiet)
    info(`Recorded the service's processes in ${layout.stateFile}: ${recorded || '(none found)'}`)
  return identity
}

/** Milliseconds between verify's checks that the new start still has a process. */
const ALIVE_CHECK_MS = 1000

/**
 * Whether verify can stop waiting: the outcome is certain before version-timeout. Once a process
 * of the new start was seen running, none left (twice, a second apart) means nothing can answer;
 * a new service that answers with another commit for stable-for (at least 2 s) will not change
 * its mind. A service alive and silent gets its whole version-timeout: no guessing from its log.
 */
class Certainty {
  private seenAlive: boolean
  private goneChecks = 0
  private lastCheck = 0
  private wrongSince: number | undefined

  constructor(
    private readonly ctx: DeployContext,
    private readonly restart: Restart
  ) {
    this.seenAlive = restart.started.running === true
  }

  /** Why waiting on is pointless, or undefined to wait on. */
  async failure(last: Poll, sha: string, identity?: Identity): Promise<string | undefined> {
    const { settings, layout, session } = this.ctx
    // Overlap: the old service answers beside the new one with its own commit, by design; an
    // answer with neither commit is the new one's.
    const previous = this.ctx.previousSha
    const wrong =
      last.commit !== undefined &&
      !commitMatches(last.commit, sha) &&
      !(bothServe(this.restart) && (previous === undefined || commitMatches(last.commit, previous)))
    if (!wrong) this.wrongSince = undefined
    else if (identity) {
      const fresh =
        identity.old.length === 0 && identity.strangers.length === 0 && identity.free.length === 0
      this.wrongSince = fresh ? (this.wrongSince ?? last.at) : undefined
    }
    if (wrong) {
      const certainAfter = Math.max(settings.stableForSeconds, 2) * 1000
      if (this.wrongSince !== undefined && last.at - this.wrongSince >= certainAfter)
        return `the new service (started after this deploy's stop) answers with ${last.commit} instead of ${sha.slice(0, 12)}, and has for ${Math.round((last.at - this.wrongSince) / 1000)} s: its release reports another commit (the stamp, or the code it imports), so waiting for version-timeout would not change it`
    }
    // Only what the action started itself carries the marker: a foreground start is not watched.
    if (!settings.detach || Date.now() - this.lastCheck < ALIVE_CHECK_MS) return undefined
    this.lastCheck = Date.now()
    const { stdout } = await session.remote.run(
      newServiceScript(layout.target, this.restart.stopped.mark),
      { phase: 'verify', timeoutSeconds: COMMAND_SECONDS.ask }
    )
    if (readAlive(stdout) > 0) {
      this.seenAlive = true
      this.goneChecks = 0
      return undefined
    }
    if (!this.seenAlive || ++this.goneChecks < 2) return undefined
    return `every process of the new start has exited (none carrying DEPLOY_TARGET=${layout.target} is left), so nothing is left that could answer: verify stops here rather than wait out version-timeout`
  }
}

/**
 * Polls the version URL until it reports `sha` and every service port is held by a process started
 * after the stop began, or gives up at version-timeout, or sooner when the outcome is certain
 * (Certainty). A port held by an older process fails at once: that is a survivor, whatever commit
 * it reports.
 */
async function awaitCommit(
  ctx: DeployContext,
  restart: Restart,
  sha: string,
  probe: Probe
): Promise<Poll> {
  const begun = Date.now()
  const deadline = begun + ctx.settings.versionTimeoutSeconds * 1000
  let reported = begun
  let last: Poll | undefined
  const certainty = new Certainty(ctx, restart)
  // Asked only where it can tell whose answer it is: a port or the URL's listener on this host.
  const identifies = ctx.settings.ports.length > 0 || probe.listener !== undefined
  let identityAsked = 0
  for (;;) {
    last = await poll(ctx, probe)
    if (ctx.session.remote.lost) {
      // A poll through a dropped connection says nothing: check again over a new one.
      await resumeVerify(ctx, sha, last)
      continue
    }
    if (answers(last, sha)) {
      const identity = await checkIdentity(ctx, restart, sha, probe).catch(
        async (error: unknown) => {
          // Cut between the answer and the port check: ask both again over a new connection.
          if (!ctx.session.remote.lost) throw error
          await resumeVerify(ctx, sha, last as Poll)
          return undefined
        }
      )
      if (!identity) continue
      if (identity.old.length > 0) {
        throw await failure(
          ctx,
          restart,
          sha,
          `reports ${last.commit}, but a service port is held by a process that started before this deploy's stop, so the answer may come from a survivor of the old service:\n` +
            identity.old.join('\n'),
          last
        )
      }
      if (identity.strangers.length > 0) {
        throw await failure(
          ctx,
          restart,
          sha,
          `reports ${last.commit}, but where version-url points on this host (${probe.address ?? ''} port ${probe.listener?.port}) the listener is not a process of the new service (none started after this deploy's stop), so the answer may come from another program:\n` +
            identity.strangers.join('\n'),
          last
        )
      }
      if (identity.free.length === 0) return { ...last, answered: identity.answered }
      last = { ...last, problem: `port(s) ${identity.free.join(', ')} in ports not held yet` }
    }
    // Whose wrong answer it is, asked once a second at most.
    const wrong = last.commit !== undefined && !commitMatches(last.commit, sha)
    const ask = wrong && identifies && Date.now() - identityAsked >= ALIVE_CHECK_MS
    if (ask) identityAsked = Date.now()
    const identity = ask
      ? await checkIdentity(ctx, restart, sha, probe, true).catch(() => undefined)
      : undefined
    const certain = await certainty.failure(last, sha, identity).catch(() => undefined)
    if (certain) throw await failure(ctx, restart, sha, certain, last)
    if (Date.now() - reported >= PROGRESS_MS) {
      reported = Date.now()
      info(
        `still waiting for ${sha.slice(0, 12)}: last answer ${describePoll(last)}; ${Math.max(0, Math.round((deadline - Date.now()) / 1000))} s left (version-timeout)`
      )
    }
    const delay = pollDelayMs(Date.now() - begun)
    if (Date.now() + delay > deadline) break
    await sleep(delay)
  }
  const timeout = `${ctx.settings.versionTimeoutSeconds} s (version-timeout)`
  const summary = answers(last, sha)
    ? `reported ${last.commit}, but ${last.problem} within ${timeout}: the service did not bind every port in ports`
    : last.commit !== undefined
      ? `kept reporting ${last.commit} instead of ${sha.slice(0, 12)} for ${timeout}: the old code is still answering, or the service reports the wrong stamp`
      : `gave no commit within ${timeout}`
  throw await failure(ctx, restart, sha, summary, last)
}

/**
 * After the connection was lost mid-verify: a new one (the service on the host went on regardless),
 * so verify goes on within its own time. Only a failed reconnect ends it.
 */
async function resumeVerify(ctx: DeployContext, sha: string, last: Poll): Promise<void> {
  const lost = ctx.session.remote.lost
  try {
    await reconnect(ctx.session, ctx.settings, 'verify')
  } catch (error) {
    throw new Error(
      `the SSH connection to ${ctx.label} was lost while verifying (${lost}), and reconnecting failed: ${errorText(error)}. ` +
        `Expected commit: ${sha}. Last reported: ${last.commit ?? '(nothing)'}${last.problem ? ` - ${last.problem}` : ''}`,
      { cause: error }
    )
  }
}

/** verify: the running service reports the deployed commit, still does after stable-for, and its version passes the guards. */
export async function verifyService(
  ctx: DeployContext,
  sha: string,
  restart: Restart,
  previousVersion?: string
): Promise<VersionReport> {
  const { settings } = ctx
  // A connection cut as verify begins: the host is asked again over a new one.
  const probe = await probeFor(ctx).catch(async (error: unknown) => {
    if (!ctx.session.remote.lost) throw error
    await resumeVerify(ctx, sha, { answer: { body: '' }, at: Date.now() })
    return probeFor(ctx)
  })
  const first = await awaitCommit(ctx, restart, sha, probe)
  info(
    `${settings.versionUrl.href} reports ${first.commit}${first.version ? ` (version ${first.version})` : ''}`
  )
  if (bothServe(restart)) {
    // Overlap: the new release answers and holds every port beside the old one, which the
    // engine retires next; stable-for is asked once the new one serves alone.
    checkVersionGuards(ctx, first.version, previousVersion)
    info('The new release answers beside the old one, which is retired next (overlap)')
    return {
      commit: first.commit as string,
      version: first.version,
      firstAnsweredAt: first.at,
      answeredOnHost: first.answered
    }
  }
  let confirmed = first
  if (settings.stableForSeconds > 0) {
    await sleep(settings.stableForSeconds * 1000)
    confirmed = await poll(ctx, probe)
    if (ctx.session.remote.lost) {
      await resumeVerify(ctx, sha, confirmed)
      confirmed = await poll(ctx, probe)
    }
    if (!answers(confirmed, sha)) {
      throw await failure(
        ctx,
        restart,
        sha,
        `reported ${first.commit} at first, but ${settings.stableForSeconds} s later (stable-for) ${confirmed.commit ? `reported ${confirmed.commit}` : 'gave no commit'}: the new service did not stay up`,
        confirmed
      )
    }
    info(`Still ${confirmed.commit} after ${settings.stableForSeconds} s (stable-for)`)
  }
  checkVersionGuards(ctx, confirmed.version, previousVersion)
  return {
    commit: confirmed.commit as string,
    version: confirmed.version,
    firstAnsweredAt: first.at,
    answeredOnHost: first.answered
  }
}

/** How long a session's processes get to stop once logind ends the session, before the answer counts. */
const LOGOUT_SETTLE_MS = 1000

/** Asks after the logout: tries this many, half a second apart (one lost request is not a death). */
const LOGOUT_TRIES = 3

/**
 * Where systemd-logind stops the user's processes when an SSH session ends (connect.ts), the
 * service verify saw answering may be one of them: ends the action's SSH session, and asks
 * version-url again over a new connection. A service that stopped with the session fails verify.
 */
export async function verifyAfterLogout(ctx: DeployContext, sha: string): Promise<void> {
  const { session, settings, label } = ctx
  const user = session.address.username
  info(
    `Ending this SSH session and asking ${settings.versionUrl.href} again over a new connection: systemd-logind on ${label} stops ${user}'s processes at logout`
  )
  const ended = Date.now()
  await renew(session, settings, 'verify')
  await sleep(Math.max(0, ended + LOGOUT_SETTLE_MS - Date.now()))
  const probe = await probeFor(ctx)
  let last = await poll(ctx, probe)
  for (let tried = 1; tried < LOGOUT_TRIES && !answers(last, sha); tried++) {
    await sleep(500)
    last = await poll(ctx, probe)
  }
  if (answers(last, sha)) {
    info(`Still ${last.commit} after the SSH session ended`)
    return
  }
  throw new Error(
    `the service reported ${sha.slice(0, 12)} until the action's SSH session ended, then ${describePoll(last)}: it stopped with the session. ` +
      `systemd-logind on ${label} stops ${user}'s processes at logout (KillUserProcesses=yes, and ${user} has no lingering), setsid or not, ` +
      `and whatever the action starts there stops when it disconnects. Fix, as root on the host: loginctl enable-linger ${user} ` +
      '(or run the service as a systemd unit that the start-command restarts)'
  )
}

/**
 * Operation verify: polls version-url until it reports `sha`, or fails at version-timeout saying
 * what is live, what was expected and what the service answered. Nothing was restarted, so no
 * port is checked against a stop.
 */
export async function verifyAnswer(ctx: DeployContext, sha: string): Promise<VersionReport> {
  const { settings } = ctx
  const probe = await probeFor(ctx)
  const deadline = Date.now() + settings.versionTimeoutSeconds * 1000
  const begun = Date.now()
  for (;;) {
    const last = await poll(ctx, probe)
    if (answers(last, sha)) {
      info(
        `${settings.versionUrl.href} reports ${last.commit}${last.version ? ` (version ${last.version})` : ''}`
      )
      return { commit: last.commit, version: last.version, firstAnsweredAt: last.at }
    }
    const delay = pollDelayMs(Date.now() - begun)
    if (Date.now() + delay > deadline)
      throw new Error(
        `${ctx.release} is live with ${sha}, but ${settings.versionUrl.href} (requested from the ${settings.versionCheckFrom}) ` +
          (last.commit
            ? `reports ${last.commit}: the service runs other code than the live release (restart it: operation restart)`
            : `gave no commit (${last.problem ?? 'no answer'}) within ${settings.versionTimeoutSeconds} s (version-timeout): the service is down or does not answer`) +
          (last.answer.status !== undefined
            ? `. Last response: HTTP ${last.answer.status} ${trimmed(last.answer.body)}`
            : '')
      )
    await sleep(delay)
  }
}

/** version-range and allow-downgrade, against the version the new service reports. */
function checkVersionGuards(
  ctx: DeployContext,
  version: string | undefined,
  previousVersion: string | undefined
): void {
  const { settings } = ctx
  if (settings.versionRange) {
    if (!version || !semver.valid(version)) {
      throw new Error(
        `version-range '${settings.versionRange}' is set, but the service reports no semver 'version' (got ${version ?? 'none'})`
      )
    }
    if (!semver.satisfies(version, settings.versionRange)) {
      throw new Error(
        `the service reports version ${version}, which is outside version-range '${settings.versionRange}'`
      )
    }
  }
  if (
    !settings.allowDowngrade &&
    previousVersion &&
    version &&
    semver.valid(previousVersion) &&
    semver.valid(version)
  ) {
    if (semver.gt(previousVersion, version)) {
      throw new Error(
        `refusing a downgrade (allow-downgrade: false): the running version was ${previousVersion}, the new one reports ${version}`
      )
    }
  }
}

/** The version the old service reports before anything is stopped (undefined when it does not answer). */
export async function runningVersion(ctx: DeployContext): Promise<string | undefined> {
  const seen = await poll(ctx)
  return seen.version
}

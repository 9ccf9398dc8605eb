import * as core from '@actions/core'
import semver from 'semver'
import type { DeployContext } from '../context.js'
import { joinCode, sh, type ShellCode } from '../shell.js'
import { commitMatches, fetchVersion, readCommit, type VersionAnswer } from '../version-probe.js'
import { PROCESS_FUNCTIONS } from './processes.js'

const POLL_INTERVAL_MS = 1000
const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

export interface VersionReport {
  commit: string
  version?: string
}

/** What one poll saw, in words, plus the commit when it read one. */
interface Poll {
  answer: VersionAnswer
  commit?: string
  version?: string
  problem?: string
}

async function poll(ctx: DeployContext): Promise<Poll> {
  const { settings } = ctx
  const via = settings.versionCheckFrom === 'host' ? ctx.session.remote.client : undefined
  const answer = await fetchVersion(settings.versionUrl, via)
  if (answer.error) return { answer, problem: `no HTTP answer (${answer.error})` }
  if (!answer.status || answer.status < 200 || answer.status > 299)
    return { answer, problem: `HTTP ${answer.status}` }
  const reading = readCommit(answer.body, settings.versionField)
  if ('problem' in reading) return { answer, problem: reading.problem }
  return { answer, commit: reading.commit, version: reading.version }
}

/** The last lines of the start log and the host's listening sockets, for a failure report. */
export function diagnosticsScript(startLog: string): ShellCode {
  return joinCode([
    PROCESS_FUNCTIONS,
    sh`printf -- '--- last 50 lines of %s\n' ${startLog}
tail -n 50 -- ${startLog} 2>/dev/null || echo '(no start log)'
printf -- '--- listening TCP sockets on the host\n'
listening_sockets`
  ])
}

function trimmed(body: string): string {
  const flat = body.replace(/\s+/g, ' ').trim()
  return flat.length > 500 ? `${flat.slice(0, 500)}...` : flat || '(empty)'
}

async function failure(
  ctx: DeployContext,
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
    .run(diagnosticsScript(layout.startLog), {
      phase: 'verify',
      timeoutSeconds: 30,
      allowFailure: true
    })
    .then(result => result.stdout.trimEnd())
    .catch(error => `(could not collect diagnostics: ${(error as Error).message})`)
  return new Error(`${lines.join('\n')}\n${diagnostics}`)
}

/** Polls the version URL once a second until it reports `sha`, or gives up at version-timeout. */
async function awaitCommit(ctx: DeployContext, sha: string): Promise<Poll> {
  const deadline = Date.now() + ctx.settings.versionTimeoutSeconds * 1000
  let last: Poll | undefined
  for (;;) {
    last = await poll(ctx)
    if (last.commit && commitMatches(last.commit, sha)) return last
    if (Date.now() + POLL_INTERVAL_MS > deadline) break
    await sleep(POLL_INTERVAL_MS)
  }
  const summary =
    last.commit !== undefined
      ? `kept reporting ${last.commit} instead of ${sha.slice(0, 12)} for ${ctx.settings.versionTimeoutSeconds} s (version-timeout): the old code is still answering, or the service reports the wrong stamp`
      : `gave no commit within ${ctx.settings.versionTimeoutSeconds} s (version-timeout)`
  throw await failure(ctx, sha, summary, last)
}

/** verify: the running service reports the deployed commit, still does after stable-for, and its version passes the guards. */
export async function verifyService(
  ctx: DeployContext,
  sha: string,
  previousVersion?: string
): Promise<VersionReport> {
  const { settings } = ctx
  const first = await awaitCommit(ctx, sha)
  core.info(
    `${settings.versionUrl.href} reports ${first.commit}${first.version ? ` (version ${first.version})` : ''}`
  )
  let confirmed = first
  if (settings.stableForSeconds > 0) {
    await sleep(settings.stableForSeconds * 1000)
    confirmed = await poll(ctx)
    if (!confirmed.commit || !commitMatches(confirmed.commit, sha)) {
      throw await failure(
        ctx,
        sha,
        `reported ${first.commit} at first, but ${settings.stableForSeconds} s later (stable-for) ${confirmed.commit ? `reported ${confirmed.commit}` : 'gave no commit'}: the new service did not stay up`,
        confirmed
      )
    }
    core.info(`Still ${confirmed.commit} after ${settings.stableForSeconds} s (stable-for)`)
  }
  checkVersionGuards(ctx, confirmed.version, previousVersion)
  return { commit: confirmed.commit as string, version: confirmed.version }
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

import {
  FIRST_ANSWER_FILE,
  insideTarget,
  relativeToTarget,
  remoteLayout
} from '../remote/layout.js'
import { holderPidFile } from './hold.js'
import IDENTITY_SCRIPT from '../host/verify/identity.sh'
import DIAGNOSE_SCRIPT from '../host/verify/diagnose.sh'
import URL_HOST_SCRIPT from '../host/verify/url-host.sh'
import { answerOf, answersOf } from '../remote/protocol.js'
import { joinCode, sh, withInputs, type ShellCode } from '../remote/shell.js'
import { hostLibrary } from '../remote/host-library.js'

/**
 * Where verify's polls go (`address`: the one address the URL's host name resolved to) and, when
 * the URL names this host, whose listener there must be the new service's (`listener`).
 */
export interface Probe {
  address?: string
  listener?: { port: number; exact: string[]; any: string[] }
}

/** Where version-url's host name points, seen from the host, and the host's own addresses. */
export function urlHostScript(name: string): ShellCode {
  return withInputs(URL_HOST_SCRIPT, { url_host: name })
}

/** What url-host.sh answered: the URL's address on the host (if it resolved) and the host's own. */
export function readUrlHost(stdout: string): { address?: string; locals: string[] } {
  return { address: answerOf(stdout, 'address') || undefined, locals: answersOf(stdout, 'local') }
}

/** This start's lines of the start log and who holds each service port, for a failure report. */
export function diagnosticsScript(
  startLog: string,
  logHeader: string | undefined,
  ports: number[]
): ShellCode {
  return joinCode([
    hostLibrary(),
    withInputs(DIAGNOSE_SCRIPT, {
      diag_log: startLog,
      diag_header: logHeader ?? '',
      diag_ports: ports
    })
  ])
}

/**
 * After the service reported the new commit, from the target (identity.sh): every service port is
 * held by a process started after the stop began, and then the service's processes are recorded
 * in state.json for the next stop.
 */
export function serviceIdentityScript(check: {
  target: string
  stateFile: string
  ports: number[]
  mark: number
  release: string
  sha: string
  listener?: Probe['listener']
  /** Overlap, before the old service is retired: its holders are expected (identity.sh). */
  overlap?: boolean
}): ShellCode {
  const { target } = check
  return joinCode([
    hostLibrary(),
    withInputs(IDENTITY_SCRIPT, {
      id_target: target,
      id_state: insideTarget(target, check.stateFile),
      id_ports: check.ports,
      id_holder: holderPidFile(relativeToTarget(remoteLayout(target))),
      id_mark: check.mark,
      id_release: check.release,
      id_sha: check.sha,
      id_url_port: check.listener ? String(check.listener.port) : '',
      id_url_exact: check.listener?.exact ?? [],
      id_url_any: check.listener?.any ?? [],
      id_answered: FIRST_ANSWER_FILE,
      id_overlap: check.overlap === true
    })
  ])
}

/** Who holds the service's ports and the URL's, as identity.sh answered. */
export interface Identity {
  /** `port P: PID N, started T, COMMAND` for each holder older than this deploy's stop. */
  old: string[]
  /** Service ports nobody holds yet. */
  free: string[]
  /** `port P: …` for each process listening where version-url points that is not the new service's. */
  strangers: string[]
  /** When the new service first answered, seen from the host (its uptime, s). */
  answered?: number
}

/** What identity.sh answered, with the PIDs it recorded in state.json (`recorded`), if it did. */
export function readServiceIdentity(stdout: string): Identity & { recorded?: string } {
  const holders = (kind: 'old' | 'stranger') =>
    answersOf(stdout, kind).flatMap(line => {
      const [, port, pid, epoch, command] = /^(\d+) (\S+) (\S+) (.*)$/.exec(line) ?? []
      if (!port) return []
      return pid === '?'
        ? `port ${port}: ${command}`
        : `port ${port}: PID ${pid}, started ${new Date(Number(epoch) * 1000).toISOString()}, ${command}`
    })
  const answered = answerOf(stdout, 'answered')
  return {
    old: holders('old'),
    free: answersOf(stdout, 'free'),
    strangers: holders('stranger'),
    answered: answered ? Number(answered) : undefined,
    recorded: answerOf(stdout, 'recorded')?.trim()
  }
}

/** How many processes of this target's service started after the stop (`alive N`). */
export function newServiceScript(target: string, mark: number): ShellCode {
  return sh`${hostLibrary()}
service_scan ${target} '' '' '' '' | awk -v mark=${mark} '$1 == "signal" && $4 >= mark { count++ } END { print "alive", count + 0 }'`
}

/** How many processes of the new start newServiceScript found (any, when it did not say). */
export function readAlive(stdout: string): number {
  return Number(answerOf(stdout, 'alive') ?? 1)
}

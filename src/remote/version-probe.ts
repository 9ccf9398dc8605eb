import http from 'node:http'
import https from 'node:https'
import type { LookupAddress } from 'node:dns'
import type { LookupFunction } from 'node:net'
import type { Duplex } from 'node:stream'
import tls from 'node:tls'
import type { Client } from 'ssh2'
import { VERSION_REQUEST_MS } from '../model/budgets.js'

/** One answer from the version endpoint. */
export interface VersionAnswer {
  status?: number
  body: string
  /** Set when there was no HTTP answer at all (refused, timed out, reset). */
  error?: string
  /** The body went past MAX_BODY and was not read further. */
  truncated?: boolean
}

const MAX_BODY = 1024 * 1024

/** Opens a TCP stream to host:port from the SSH host (ssh2 direct-tcpip), for services bound to localhost there. */
function forwardedSocket(client: Client, host: string, port: number): Promise<Duplex> {
  return new Promise((resolve, reject) =>
    client.forwardOut('127.0.0.1', 0, host, port, (error, channel) => {
      if (!error) return resolve(channel)
      // RFC 4254 open-failure reasons: 1 administratively prohibited, 2 connect failed.
      const reason = (error as Error & { reason?: number }).reason
      if (reason === 1) {
        return reject(
          new Error(
            'the SSH server does not allow TCP forwarding (AllowTcpForwarding); allow it for this user, or set version-check-from: runner'
          )
        )
      }
      if (reason === 2 || /refused/i.test(error.message)) {
        return reject(
          new Error(`ECONNREFUSED on the host: nothing listens on ${host}:${port} there`)
        )
      }
      reject(new Error(`the host could not open ${host}:${port}: ${error.message}`))
    })
  )
}

/** A DNS lookup that answers `address` whatever it is asked (the address was resolved once). */
function pinnedLookup(address: string): LookupFunction {
  const family = address.includes(':') ? 6 : 4
  return ((_host, options, callback) => {
    if (options.all)
      (callback as unknown as (error: null, all: LookupAddress[]) => void)(null, [
        { address, family }
      ])
    else callback(null, address, family)
  }) as LookupFunction
}

export function defaultPort(url: URL): number {
  return Number(url.port || (url.protocol === 'https:' ? 443 : 80))
}

async function requestOnce(
  url: URL,
  via: Client | undefined,
  address: string | undefined
): Promise<VersionAnswer & { location?: string }> {
  const host = url.hostname.replace(/^\[|\]$/g, '')
  let socket: Duplex | undefined
  if (via) {
    const channel = await forwardedSocket(via, address ?? host, defaultPort(url))
    socket =
      url.protocol === 'https:' ? tls.connect({ socket: channel, servername: host }) : channel
  }
  const transport = url.protocol === 'https:' ? https : http
  return new Promise<VersionAnswer & { location?: string }>(resolve => {
    let settled = false
    const settle = (answer: VersionAnswer & { location?: string }): void => {
      if (settled) return
      settled = true
      clearTimeout(deadline)
      resolve(answer)
    }
    // The whole request, body included, within the limit: the socket's idle timeout alone never
    // fires on a forwarded SSH channel, nor on an endpoint that trickles bytes.
    const deadline = setTimeout(() => {
      settle({ body: '', error: `no full answer within ${VERSION_REQUEST_MS / 1000} s` })
      request.destroy()
    }, VERSION_REQUEST_MS)
    const request = transport.request(
      url,
      {
        method: 'GET',
        headers: {
          accept: 'application/json, text/plain;q=0.9, */*;q=0.1',
          'user-agent': 'verified-ssh-deploy'
        },
        timeout: VERSION_REQUEST_MS,
        // With an agent (even agent: false) Node ignores createConnection and dials directly.
        ...(socket
          ? { createConnection: () => socket }
          : {
              agent: false,
              // The one address verify checks, not whichever the name resolves to next.
              ...(address ? { lookup: pinnedLookup(address) } : {})
            })
      },
      response => {
        const chunks: Buffer[] = []
        let size = 0
        const done = (): void =>
          settle({
            status: response.statusCode,
            body: Buffer.concat(chunks).toString('utf8'),
            location: response.headers.location
          })
        response.on('data', (chunk: Buffer) => {
          if (size >= MAX_BODY) return
          chunks.push(chunk.subarray(0, MAX_BODY - size))
          size += chunk.length
          if (size < MAX_BODY) return
          // Enough read: say so, and drop the rest.
          settle({ status: response.statusCode, body: '', truncated: true })
          request.destroy()
        })
        response.on('end', done)
        response.on('close', done)
      }
    )
    request.on('timeout', () =>
      request.destroy(new Error(`no answer within ${VERSION_REQUEST_MS / 1000} s`))
    )
    request.on('error', error =>
      settle({ body: '', error: (error as NodeJS.ErrnoException).code ?? error.message })
    )
    request.end()
  }).finally(() => socket?.destroy())
}

/**
 * GETs the version URL once, through the SSH connection when `via` is given, at `address` when
 * given (one address the URL's host name resolved to: the one whose listener verify checks). A
 * redirect is never followed: the answer must come from where the URL points, so a 3xx is a
 * failed answer that names its Location.
 */
export async function fetchVersion(
  url: URL,
  via?: Client,
  address?: string
): Promise<VersionAnswer> {
  let answer: VersionAnswer & { location?: string }
  try {
    answer = await requestOnce(url, via, address)
  } catch (error) {
    return { body: '', error: error instanceof Error ? error.message : String(error) }
  }
  const { status, body, error, truncated, location } = answer
  if (status && status >= 300 && status < 400)
    return {
      status,
      body: '',
      error: `HTTP ${status}, a redirect${location ? ` to ${answerValue(location)}` : ''}: redirects are not followed (the answer must come from the service itself); point version-url at the endpoint that answers`
    }
  return { status, body, error, truncated }
}

/**
 * A value taken from a service's answer (a commit, a version, a Location, a key): one line, no
 * control or format characters, at most `max` characters, before it reaches the log, an output,
 * the summary or an annotation.
 */
export function answerValue(text: string, max = 200): string {
  const flat = text
    .replace(/[\p{Cc}\p{Cf}\u2028\u2029]+/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim()
  return flat.length > max ? `${flat.slice(0, max)}…` : flat
}

export const DEFAULT_COMMIT_FIELDS = [
  'commit',
  'sha',
  'revision',
  'git_sha',
  'gitSha',
  'commit_sha'
]

export type CommitReading = { commit: string; version?: string } | { problem: string }

function pick(value: unknown, path: string[]): unknown {
  return path.reduce<unknown>(
    (node, key) =>
      node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined,
    value
  )
}

/** Reads the commit (and the `version` field, if any) from a 2xx body. */
export function readCommit(body: string, field: string | undefined): CommitReading {
  let json: unknown
  try {
    json = JSON.parse(body)
  } catch {
    json = undefined
  }
  const version =
    typeof pick(json, ['version']) === 'string'
      ? answerValue(pick(json, ['version']) as string)
      : undefined
  if (field) {
    if (json === undefined)
      return { problem: `the body is not JSON, but version-field '${field}' is set` }
    const value = pick(json, field.split('.'))
    if (typeof value !== 'string' && typeof value !== 'number') {
      return {
        problem: `the JSON body has no text at '${field}' (version-field); its top-level keys are ${topKeys(json)}`
      }
    }
    return { commit: answerValue(String(value)), version }
  }
  if (json !== null && typeof json === 'object') {
    for (const key of DEFAULT_COMMIT_FIELDS) {
      const value = (json as Record<string, unknown>)[key]
      if (typeof value === 'string') return { commit: answerValue(value), version }
    }
    return {
      problem: `the JSON body has none of ${DEFAULT_COMMIT_FIELDS.join(', ')}; its top-level keys are ${topKeys(json)}. Set version-field`
    }
  }
  const text = body.trim()
  if (!text) return { problem: 'the body is empty' }
  // A page (a proxy's error page, a login form) is not a commit, whatever its first word.
  if (text.startsWith('<')) {
    return {
      problem: `the body is HTML (${JSON.stringify(answerValue(text, 60))}), not a commit: point version-url at the endpoint that reports it`
    }
  }
  return { commit: answerValue(text.split(/\s+/)[0]) }
}

function topKeys(json: unknown): string {
  return json && typeof json === 'object'
    ? answerValue(Object.keys(json).join(', ')) || '(none)'
    : '(not an object)'
}

/** Equal to the full SHA, or a prefix of it of at least 7 hex characters, ignoring case. */
export function commitMatches(reported: string, sha: string): boolean {
  const value = reported.toLowerCase()
  return /^[0-9a-f]{7,}$/.test(value) && sha.toLowerCase().startsWith(value)
}

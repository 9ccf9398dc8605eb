import { createHash, createHmac } from 'node:crypto'
import { hostLabel } from '../inputs/host-address.js'

/** One usable line of the `known-hosts` input. */
export interface KnownHostEntry {
  lineNumber: number
  revoked: boolean
  patterns: string
  keyType: string
  key: Buffer
}

/** The host-key pins, as parsed from the inputs. */
export interface HostKeyPolicy {
  knownHosts: KnownHostEntry[]
  fingerprints: string[]
  insecureSkip: boolean
}

export type HostKeyDecision =
  { accepted: true; verified: boolean; reason: string } | { accepted: false; message: string }

/** `SHA256:<base64 without padding>`, the form `ssh-keygen -lf` prints. */
export function fingerprint(keyBlob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')
}

/** The algorithm name an SSH public-key blob starts with (a uint32-length-prefixed string). */
export function keyTypeOf(keyBlob: Buffer): string {
  if (keyBlob.length < 4) return ''
  const length = keyBlob.readUInt32BE(0)
  if (length > 64 || keyBlob.length < 4 + length) return ''
  return keyBlob.subarray(4, 4 + length).toString('latin1')
}

/** The name OpenSSH records a host under: `host` on port 22, `[host]:port` otherwise. */
function knownHostsName(address: { host: string; port: number }): string {
  return address.port === 22 ? address.host : `[${address.host}]:${address.port}`
}

/** A line to paste into `known-hosts` for the key this host presented. */
export function knownHostsLine(address: { host: string; port: number }, keyBlob: Buffer): string {
  return `${knownHostsName(address)} ${keyTypeOf(keyBlob)} ${keyBlob.toString('base64')}`
}

/** Parses `known-hosts`; problems come back as text naming the line. */
export function parseKnownHosts(text: string): { entries: KnownHostEntry[]; problems: string[] } {
  const entries: KnownHostEntry[] = []
  const problems: string[] = []
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim()
    const lineNumber = index + 1
    if (!line || line.startsWith('#')) return
    const fields = line.split(/\s+/)
    let revoked = false
    if (fields[0].startsWith('@')) {
      const marker = fields.shift()
      if (marker === '@revoked') revoked = true
      else {
        problems.push(
          `line ${lineNumber} uses '${marker}', which this action does not support; pin the host's own key instead`
        )
        return
      }
    }
    const [patterns, keyType, base64] = fields
    const key =
      base64 && /^[A-Za-z0-9+/]+={0,2}$/.test(base64) ? Buffer.from(base64, 'base64') : null
    if (!patterns || !keyType || !key || keyTypeOf(key) !== keyType) {
      problems.push(
        `line ${lineNumber} is not a known_hosts line ('host key-type base64-key'); get one with 'ssh-keyscan -p PORT HOST'`
      )
      return
    }
    entries.push({ lineNumber, revoked, patterns, keyType, key })
  })
  return { entries, problems }
}

function globMatches(pattern: string, name: string): boolean {
  const regex = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.')
  return new RegExp(`^${regex}$`, 'i').test(name)
}

function hashedMatches(pattern: string, name: string): boolean {
  const [, kind, salt, hash] = pattern.split('|')
  if (kind !== '1' || !salt || !hash) return false
  const digest = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64')
  return digest === hash
}

/** OpenSSH's rules: comma-separated patterns, `!` negates, `*`/`?` wildcards, `|1|` hashed names. */
export function hostMatches(patterns: string, address: { host: string; port: number }): boolean {
  const name = knownHostsName(address)
  let matched = false
  for (const pattern of patterns.split(',')) {
    const negated = pattern.startsWith('!')
    const body = negated ? pattern.slice(1) : pattern
    const hit = body.startsWith('|') ? hashedMatches(body, name) : globMatches(body, name)
    if (hit && negated) return false
    if (hit) matched = true
  }
  return matched
}

/** Host-key algorithms to offer first, so the server presents the type that was pinned. */
export function pinnedKeyAlgorithms(
  policy: HostKeyPolicy,
  address: { host: string; port: number }
): string[] {
  const algorithms: string[] = []
  for (const entry of policy.knownHosts) {
    if (entry.revoked || !hostMatches(entry.patterns, address)) continue
    const names =
      entry.keyType === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [entry.keyType]
    for (const name of names) if (!algorithms.includes(name)) algorithms.push(name)
  }
  return algorithms
}

/** Decides whether the key a host presented is the one the inputs pin. */
export function checkHostKey(
  policy: HostKeyPolicy,
  address: { host: string; port: number },
  presented: Buffer
): HostKeyDecision {
  const presentedFingerprint = fingerprint(presented)
  const presentedType = keyTypeOf(presented)
  const label = hostLabel(address)
  const entries = policy.knownHosts.filter(entry => hostMatches(entry.patterns, address))
  const revoked = entries.find(entry => entry.revoked && entry.key.equals(presented))
  if (revoked) {
    return {
      accepted: false,
      message: `Host key for ${label} (${presentedType} ${presentedFingerprint}) is marked @revoked in known-hosts line ${revoked.lineNumber}; refusing to connect.`
    }
  }
  const pins = entries.filter(entry => !entry.revoked)
  const knownHostsHit = pins.find(entry => entry.key.equals(presented))
  if (knownHostsHit) {
    return {
      accepted: true,
      verified: true,
      reason: `matches known-hosts line ${knownHostsHit.lineNumber}`
    }
  }
  if (policy.fingerprints.includes(presentedFingerprint)) {
    return {
      accepted: true,
      verified: true,
      reason: `matches host-fingerprint ${presentedFingerprint}`
    }
  }
  const expected = [
    ...pins.map(
      entry => `${entry.keyType} ${fingerprint(entry.key)} (known-hosts line ${entry.lineNumber})`
    ),
    ...policy.fingerprints.map(value => `${value} (host-fingerprint)`)
  ]
  const pasteLine = knownHostsLine(address, presented)
  if (expected.length > 0) {
    return {
      accepted: false,
      message:
        `Host key mismatch for ${label}: the host presented ${presentedType} ${presentedFingerprint}, ` +
        `but the pinned key is ${expected.join(', or ')}. If the host's key was changed on purpose, ` +
        `update known-hosts/host-fingerprint; otherwise something may be intercepting the connection.`
    }
  }
  if (policy.insecureSkip) {
    return {
      accepted: true,
      verified: false,
      reason: `NOT verified (insecure-skip-host-key-check); presented ${presentedType} ${presentedFingerprint}`
    }
  }
  const missing =
    policy.knownHosts.length > 0
      ? `known-hosts has no line for ${label} (OpenSSH names it '${knownHostsName(address)}')`
      : `no host key is pinned for ${label}`
  return {
    accepted: false,
    message:
      `Refusing to connect: ${missing}. The host presented ${presentedType} ${presentedFingerprint}. ` +
      `Check that fingerprint on the host ('ssh-keygen -lf /etc/ssh/ssh_host_${presentedType.replace(/^ssh-|-.*$/g, '')}_key.pub'), ` +
      `then add this line to the known-hosts input:\n${pasteLine}\n` +
      `(or set host-fingerprint: ${presentedFingerprint}). ` +
      `To skip the check instead (not recommended), set insecure-skip-host-key-check: true.`
  }
}

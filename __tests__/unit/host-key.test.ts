import { describe, expect, it } from '@jest/globals'
import { createHmac, randomBytes } from 'node:crypto'
import {
  checkHostKey,
  fingerprint,
  hostMatches,
  keyTypeOf,
  knownHostsLine,
  parseKnownHosts
} from '../../src/remote/host-key.js'

/** An ssh-ed25519 public key blob with random key bytes. */
function ed25519Blob(): Buffer {
  const type = Buffer.from('ssh-ed25519')
  const key = randomBytes(32)
  const blob = Buffer.alloc(4 + type.length + 4 + key.length)
  blob.writeUInt32BE(type.length, 0)
  type.copy(blob, 4)
  blob.writeUInt32BE(key.length, 4 + type.length)
  key.copy(blob, 8 + type.length)
  return blob
}

const web = { host: 'web.example.com', port: 22 }
const custom = { host: '10.0.0.7', port: 2222 }

describe('known_hosts matching', () => {
  it('follows OpenSSH naming: bare host on 22, [host]:port elsewhere', () => {
    expect(hostMatches('web.example.com', web)).toBe(true)
    expect(hostMatches('10.0.0.7', custom)).toBe(false)
    expect(hostMatches('[10.0.0.7]:2222', custom)).toBe(true)
  })

  it('supports wildcards, negation and hashed names', () => {
    expect(hostMatches('*.example.com', web)).toBe(true)
    expect(hostMatches('*.example.com,!web.example.com', web)).toBe(false)
    expect(hostMatches('w?b.example.com', web)).toBe(true)
    const salt = randomBytes(20)
    const hash = createHmac('sha1', salt).update('[10.0.0.7]:2222').digest('base64')
    expect(hostMatches(`|1|${salt.toString('base64')}|${hash}`, custom)).toBe(true)
    expect(hostMatches(`|1|${salt.toString('base64')}|${hash}`, web)).toBe(false)
  })
})

describe('checkHostKey', () => {
  const presented = ed25519Blob()
  const other = ed25519Blob()
  const policy = (knownHosts: string, fingerprints: string[] = [], insecureSkip = false) => ({
    knownHosts: parseKnownHosts(knownHosts).entries,
    fingerprints,
    insecureSkip
  })

  it('accepts a key pinned by known-hosts or by fingerprint', () => {
    expect(checkHostKey(policy(knownHostsLine(web, presented)), web, presented)).toEqual({
      accepted: true,
      verified: true,
      reason: 'matches known-hosts line 1'
    })
    expect(checkHostKey(policy('', [fingerprint(presented)]), web, presented)).toMatchObject({
      accepted: true
    })
  })

  it('refuses a mismatch even when insecure-skip-host-key-check is set', () => {
    const decision = checkHostKey(policy(knownHostsLine(web, other), [], true), web, presented)
    expect(decision).toMatchObject({ accepted: false })
    if (!decision.accepted) {
      expect(decision.message).toContain(`presented ssh-ed25519 ${fingerprint(presented)}`)
      expect(decision.message).toContain(
        `pinned key is ssh-ed25519 ${fingerprint(other)} (known-hosts line 1)`
      )
    }
  })

  it('refuses a @revoked key', () => {
    const decision = checkHostKey(
      policy(`@revoked ${knownHostsLine(web, presented)}`, [fingerprint(presented)]),
      web,
      presented
    )
    expect(decision).toMatchObject({ accepted: false })
  })

  it('without a pin, refuses and gives the line to paste; with the skip flag, accepts unverified', () => {
    const refused = checkHostKey(policy(''), custom, presented)
    expect(refused.accepted).toBe(false)
    if (!refused.accepted)
      expect(refused.message).toContain(
        `[10.0.0.7]:2222 ssh-ed25519 ${presented.toString('base64')}`
      )
    expect(checkHostKey(policy('', [], true), custom, presented)).toMatchObject({
      accepted: true,
      verified: false
    })
  })

  it('says when known-hosts has lines, but none for this host', () => {
    const decision = checkHostKey(policy(knownHostsLine(web, presented)), custom, presented)
    expect(decision.accepted).toBe(false)
    if (!decision.accepted)
      expect(decision.message).toContain(
        "known-hosts has no line for 10.0.0.7:2222 (OpenSSH names it '[10.0.0.7]:2222')"
      )
  })

  it('reads the key type from the blob and fingerprints like ssh-keygen (no padding)', () => {
    expect(keyTypeOf(presented)).toBe('ssh-ed25519')
    expect(fingerprint(presented)).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/)
  })
})

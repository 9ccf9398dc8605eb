import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { createServer, type Server } from 'node:net'
import { escapeHtml } from '../../src/report/report.js'
import { runAction } from '../support/action.js'
import { failureMessage } from '../support/deploy.js'
import { dryRunInputs, sourceTree } from '../support/fixtures.js'
import { freePort, startSshd, type TestSshd } from '../support/sshd.js'

let sshd: TestSshd
let source: string
let inputs: Record<string, string>

beforeAll(async () => {
  sshd = await startSshd()
  source = sourceTree()
  inputs = dryRunInputs(sshd, source)
})
afterAll(async () => sshd?.stop())

describe('connection failures through dist/index.js fail the step clearly', () => {
  it('refuses an unpinned host, printing its fingerprint and the known-hosts line to paste', async () => {
    const result = await runAction({ ...inputs, 'known-hosts': '' })
    expect(result.code).toBe(1)
    const message = failureMessage(result)
    expect(message).toContain(
      `connect: Refusing to connect: no host key is pinned for 127.0.0.1:${sshd.port}`
    )
    expect(message).toContain(sshd.fingerprints.ed25519)
    expect(message).toContain(sshd.knownHosts.ed25519)
    expect(message).toContain('insecure-skip-host-key-check: true')
  })

  it('refuses a wrong pin, naming the expected and the presented key', async () => {
    const other = await startSshd()
    try {
      const wrongLine = other.knownHosts.ed25519.replace(`]:${other.port} `, `]:${sshd.port} `)
      const result = await runAction({ ...inputs, 'known-hosts': wrongLine })
      expect(result.code).toBe(1)
      const message = failureMessage(result)
      expect(message).toContain(`Host key mismatch for 127.0.0.1:${sshd.port}`)
      expect(message).toContain(`presented ssh-ed25519 ${sshd.fingerprints.ed25519}`)
      expect(message).toContain(
        `pinned key is ssh-ed25519 ${other.fingerprints.ed25519} (known-hosts line 1)`
      )
    } finally {
      await other.stop()
    }
  })

  it('refuses a wrong host-fingerprint pin', async () => {
    const result = await runAction({
      ...inputs,
      'known-hosts': '',
      'host-fingerprint': 'SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8'
    })
    expect(result.code).toBe(1)
    expect(failureMessage(result)).toContain(
      'pinned key is SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8 (host-fingerprint)'
    )
  })

  it('says the key was rejected for the user when the key is not authorized', async () => {
    const result = await runAction({ ...inputs, 'private-key': sshd.keys.notAuthorized.text })
    expect(result.code).toBe(1)
    const message = failureMessage(result)
    expect(message).toContain(
      `Authentication failed: 127.0.0.1:${sshd.port} rejected the private key (ssh-ed25519 SHA256:`
    )
    expect(message).toContain(`for user '${sshd.user}'`)
    expect(message).not.toMatch(/methods|none publickey/)
  })

  it('reports a closed port at once', async () => {
    const port = await freePort()
    const started = Date.now()
    const result = await runAction({ ...inputs, host: `127.0.0.1:${port}` })
    expect(result.code).toBe(1)
    expect(failureMessage(result)).toContain(`Connection refused by 127.0.0.1:${port}`)
    expect(Date.now() - started).toBeLessThan(15_000)
  })

  it('gives up on a host that accepts TCP but never speaks SSH within connect-timeout', async () => {
    const silent: Server = createServer(() => undefined)
    await new Promise<void>(resolve => silent.listen(0, '127.0.0.1', resolve))
    const port = (silent.address() as { port: number }).port
    try {
      const result = await runAction({
        ...inputs,
        host: `127.0.0.1:${port}`,
        'connect-timeout': '2'
      })
      expect(result.code).toBe(1)
      expect(failureMessage(result)).toContain(
        `No SSH handshake with 127.0.0.1:${port} within 2 s (connect-timeout)`
      )
    } finally {
      silent.close()
    }
  })

  it('never prints the private key or passphrase', async () => {
    const key = sshd.keys.rsaPassphrase
    const result = await runAction({
      ...inputs,
      'private-key': key.text,
      passphrase: key.passphrase as string
    })
    expect(result.code).toBe(0)
    const body = key.text.split('\n').filter(line => line && !line.includes('-----'))
    const unmasked = result.stdout.split('\n').filter(line => !line.startsWith('::add-mask::'))
    for (const line of body) expect(unmasked.join('\n')).not.toContain(line)
    expect(unmasked.join('\n')).not.toContain(key.passphrase)
    expect(result.stdout).toContain(`::add-mask::${key.passphrase}`)
  })
})

describe('bad inputs fail before any connection, naming the input and the fix', () => {
  const cases: [string, Record<string, string>, string][] = [
    ['missing host', { host: '' }, 'host is required: set host to the server name'],
    ['port 0', { port: '0', host: '127.0.0.1' }, "port is '0': use a whole number from 1 to 65535"],
    [
      'port 99999',
      { port: '99999', host: '127.0.0.1' },
      "port is '99999': use a whole number from 1 to 65535"
    ],
    ['target /', { target: '/' }, "target is '/': use an absolute path on the host"],
    [
      'empty target',
      { target: '' },
      'target is required: set it to the absolute directory on the host'
    ],
    [
      'relative target',
      { target: 'srv/app' },
      "target is 'srv/app': use an absolute path on the host"
    ],
    [
      'unknown strategy',
      { strategy: 'fast' },
      "strategy is 'fast': use one of 'releases', 'in-place'"
    ],
    [
      'negative keep-releases',
      { 'keep-releases': '-1' },
      "keep-releases is '-1': use a whole number from 1 to 1000"
    ],
    [
      'non-http version-url',
      { 'version-url': 'ftp://example.com/v' },
      "version-url is 'ftp://example.com/v': use an http:// or https:// URL"
    ],
    [
      'env line without =',
      { env: 'GOOD=1\nBROKEN' },
      "env is 'BROKEN': each line must be KEY=VALUE"
    ],
    [
      'PuTTY key',
      { 'private-key': 'PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: x\n' },
      'private-key: it is a PuTTY .ppk file; convert it with'
    ],
    [
      'public key',
      {
        'private-key':
          'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me@host'
      },
      'private-key: it is a public key (the .pub file)'
    ],
    ['neither key nor password', { 'private-key': '' }, 'private-key or password is required'],
    [
      'process-match of two lines',
      { 'process-match': 'a\nmyapp serve', 'dry-run': 'false' },
      "process-match is 'a': use one line: the pattern is one extended regular expression matched against each command line"
    ]
  ]

  it.each(cases)('%s', async (_name, overrides, expected) => {
    const connectionsBefore = sshd.log().split('Connection from').length
    const result = await runAction({ ...inputs, ...overrides })
    expect(result.code).toBe(1)
    const message = failureMessage(result)
    expect(message).toContain('Invalid input')
    expect(message).toContain('nothing was changed on any host')
    expect(message).toContain(expected)
    // The job summary says the same, not an empty table.
    expect(result.summary).toContain('<strong>The inputs were refused</strong>')
    expect(result.summary).toContain(`<li>${escapeHtml(expected)}`)
    expect(result.summary).not.toContain('<table>')
    expect(result.stdout).not.toContain('Connected to')
    expect(sshd.log().split('Connection from').length).toBe(connectionsBefore)
  })
})

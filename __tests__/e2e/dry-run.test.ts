import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runAction } from '../support/action.js'
import { dryRunInputs, sourceTree, TEST_SHA } from '../support/fixtures.js'
import { startSshd, type TestSshd } from '../support/sshd.js'

let sshd: TestSshd
let source: string

beforeAll(async () => {
  sshd = await startSshd()
  source = sourceTree()
})
afterAll(async () => sshd?.stop())

describe('dry run through dist/index.js against a real sshd', () => {
  it('succeeds with an ed25519 key and a pinned host key, and changes nothing', async () => {
    const inputs = dryRunInputs(sshd, source)
    const result = await runAction(inputs)
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    expect(result.stdout).toContain('host key matches known-hosts line 1')
    expect(result.stdout).toContain('Dry run: nothing on the host is changed')
    expect(result.stdout).toMatch(/switch\s+.*\/current -> releases\/\d{8}T\d{6}Z-0123456/)
    expect(existsSync(inputs.target)).toBe(false)
    expect(result.outputs.sha).toBe(TEST_SHA)
    const hosts = JSON.parse(result.outputs.hosts)
    expect(hosts).toHaveLength(1)
    expect(hosts[0]).toMatchObject({
      host: `127.0.0.1:${sshd.port}`,
      result: 'dry-run',
      sha: TEST_SHA
    })
    expect(hosts[0].phases.map((timing: { phase: string }) => timing.phase)).toEqual([
      'connect',
      'plan'
    ])
    expect(result.summary).toContain('<td>dry-run</td>')
    expect(result.summary).toContain('<summary>The plan (dry run)</summary>')
  })

  it('succeeds with an RSA key protected by a passphrase', async () => {
    const result = await runAction({
      ...dryRunInputs(sshd, source),
      'private-key': sshd.keys.rsaPassphrase.text,
      passphrase: sshd.keys.rsaPassphrase.passphrase as string
    })
    expect(result.code).toBe(0)
    expect(result.stdout).toContain('Dry run: nothing on the host is changed')
  })

  it('succeeds with the same RSA key as PKCS#8 (BEGIN PRIVATE KEY), as ssh-keygen -m PKCS8 writes it', async () => {
    const copy = join(mkdtempSync(join(tmpdir(), 'vsd-pkcs8-')), 'key')
    copyFileSync(sshd.keys.rsaPassphrase.path, copy)
    chmodSync(copy, 0o600)
    const passphrase = sshd.keys.rsaPassphrase.passphrase as string
    execFileSync('ssh-keygen', ['-q', '-p', '-m', 'PKCS8', '-f', copy, '-P', passphrase, '-N', ''])
    const key = readFileSync(copy, 'utf8')
    expect(key).toMatch(/^-----BEGIN PRIVATE KEY-----$/m)
    const result = await runAction({ ...dryRunInputs(sshd, source), 'private-key': key })
    expect(result.code).toBe(0)
    expect(result.stdout).toContain('Dry run: nothing on the host is changed')
  })
})

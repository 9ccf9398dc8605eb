import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { mkdirSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { connect } from '../../src/tasks/connect.js'
import { getSettings } from '../../src/inputs/settings.js'
import { quote, sh } from '../../src/remote/shell.js'
import { dryRunInputs, inputReader, sourceTree } from '../support/fixtures.js'
import { startSshd, type TestSshd } from '../support/sshd.js'

let sshd: TestSshd
let inputs: Record<string, string>

beforeAll(async () => {
  sshd = await startSshd()
  inputs = dryRunInputs(sshd, sourceTree())
})
afterAll(async () => sshd?.stop())

const settingsWith = (overrides: Record<string, string>) =>
  getSettings(inputReader({ ...inputs, ...overrides }))

async function connectWith(overrides: Record<string, string>) {
  const settings = settingsWith(overrides)
  return connect(settings.hosts[0], settings)
}

describe('connect against a real sshd', () => {
  it('authenticates with an ECDSA key', async () => {
    const session = await connectWith({ 'private-key': sshd.keys.ecdsa.text })
    session.close()
  })

  it('tolerates CRLF line ends and a missing final newline in the key', async () => {
    const mangled = sshd.keys.ed25519.text.trimEnd().replace(/\n/g, '\r\n')
    const session = await connectWith({ 'private-key': mangled })
    session.close()
  })

  it('asks the server for the pinned key type when only the RSA host key is pinned', async () => {
    const session = await connectWith({ 'known-hosts': sshd.knownHosts.rsa })
    expect(session.hostKeyReason).toBe('matches known-hosts line 1')
    session.close()
  })

  it('accepts a matching host-fingerprint pin', async () => {
    const session = await connectWith({
      'known-hosts': '',
      'host-fingerprint': sshd.fingerprints.ed25519
    })
    expect(session.hostKeyReason).toBe(`matches host-fingerprint ${sshd.fingerprints.ed25519}`)
    session.close()
  })

  it('accepts a hashed known_hosts line as ssh-keyscan -H writes it', async () => {
    const hashed = execFileSync(
      'ssh-keyscan',
      ['-H', '-t', 'ed25519', '-p', String(sshd.port), '127.0.0.1'],
      {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore']
      }
    )
    expect(hashed).toMatch(/^\|1\|/)
    const session = await connectWith({ 'known-hosts': hashed })
    session.close()
  })

  it('connects without a pin only when insecure-skip-host-key-check is set, saying so', async () => {
    const session = await connectWith({ 'known-hosts': '', 'insecure-skip-host-key-check': 'true' })
    expect(session.hostKeyReason).toContain('NOT verified')
    session.close()
  })

  it('resolves a ~/ target against the remote home directory', async () => {
    const session = await connectWith({ target: '~/apps/my app' })
    const { stdout } = await session.remote.run(sh`printf %s "$HOME"`, {
      phase: 'test',
      timeoutSeconds: 10
    })
    expect(session.target).toBe(`${stdout}/apps/my app`)
    session.close()
  })
})

describe('remote commands over the connection', () => {
  it("run as the test sshd's own deploy user, not root, whose home holds no start-up files", async () => {
    const session = await connectWith({})
    try {
      const { stdout } = await session.remote.run(sh`id -un; id -u; ls -A "$HOME"`, {
        phase: 'test',
        timeoutSeconds: 10
      })
      expect(stdout.split('\n').filter(Boolean)).toEqual([
        sshd.user,
        expect.not.stringMatching(/^0$/)
      ])
    } finally {
      session.close()
    }
  })

  it('passes hostile values through as data', async () => {
    const session = await connectWith({})
    const hostile = `it's "$(touch pwned)" \`id\` $HOME; rm -rf /nope\nsecond line \\ end`
    const { stdout } = await session.remote.run(sh`cd ${sshd.dir} && printf %s ${hostile}`, {
      phase: 'test',
      timeoutSeconds: 10
    })
    expect(stdout).toBe(hostile)
    const { code } = await session.remote.run(sh`test -e ${join(sshd.dir, 'pwned')}`, {
      phase: 'test',
      timeoutSeconds: 10,
      allowFailure: true
    })
    expect(code).toBe(1)
    expect(quote("a'b")).toBe(`'a'\\''b'`)
    session.close()
  })

  it('fails on a non-zero exit with the code and the last stderr lines', async () => {
    const session = await connectWith({})
    const failing = sh`for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22; do echo "line $i" >&2; done; exit 3`
    await expect(
      session.remote.run(failing, { phase: 'test', timeoutSeconds: 10 })
    ).rejects.toThrow(/exited with code 3; last stderr:\nline 3\n[\s\S]*line 22$/)
    session.close()
  })

  it('enforces the per-command time limit', async () => {
    const session = await connectWith({})
    const started = Date.now()
    await expect(
      session.remote.run(sh`sleep 30`, { phase: 'test', timeoutSeconds: 1 })
    ).rejects.toThrow('timed out after 1 s')
    expect(Date.now() - started).toBeLessThan(5000)
    session.close()
  })

  it('treats a dropped connection as a failure, not success', async () => {
    const session = await connectWith({})
    const running = session.remote.run(sh`sleep 20`, { phase: 'test', timeoutSeconds: 30 })
    await new Promise(resolve => setTimeout(resolve, 300))
    sshd.dropConnections()
    await expect(running).rejects.toThrow(/ended without an exit code|connection was lost/)
    await expect(
      session.remote.run(sh`true`, { phase: 'next', timeoutSeconds: 5 })
    ).rejects.toThrow('was lost')
  })
})

describe('tool check', () => {
  it('names each tool the host lacks and the package that has it', async () => {
    const bin = join(sshd.dir, 'partial-bin')
    mkdirSync(bin)
    for (const tool of [
      'sh',
      'bash',
      'tar',
      'find',
      'mkdir',
      'ln',
      'mv',
      'kill',
      'head',
      'mkfifo'
    ]) {
      const path = execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim()
      if (path.startsWith('/')) symlinkSync(path, join(bin, tool))
    }
    const limited = await startSshd({ user: sshd.user, extraConfig: [`SetEnv PATH=${bin}`] })
    try {
      const settings = getSettings(inputReader({ ...dryRunInputs(limited, sourceTree()) }))
      await expect(connect(settings.hosts[0], settings)).rejects.toThrow(
        /lacks setsid, which the deploy needs\. Install setsid \(package util-linux\)/
      )
    } finally {
      await limited.stop()
    }
  })
})

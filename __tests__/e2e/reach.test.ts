/**
 * Reaching the hosts people really have (README, "Hosts behind a tunnel", "systemd and sudo"):
 * a proxy-command as the connection, retries of a connection that fails before authentication,
 * sudo that asks for a password, the env input written as a file for the service, and a logind
 * that stops the user's processes when the SSH session ends.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runAction } from '../support/action.js'
import { deploy, deployInputs, failureMessage, killedAfterAll } from '../support/deploy.js'
import { parseDotenv, parseSystemdEnvironmentFile } from '../support/env-parsers.js'
import { serviceSource, sha, versionAnswer } from '../support/service.js'
import { freePort, startSshd, type TestSshd } from '../support/sshd.js'
import { createUser, type TestUser } from '../support/users.js'
import { fakeLogind } from '../support/logind.js'

let sshd: TestSshd
let user: TestUser
let loginUser: TestUser
const logind = fakeLogind({ KillUserProcesses: 'yes', Linger: 'yes' })
const targets = killedAfterAll()
const sudoers: string[] = []

beforeAll(async () => {
  sshd = await startSshd({ userKeys: true })
  user = createUser(sshd, 'vsdsudo', '/bin/sh')
  loginUser = createUser(sshd, 'vsdlogind', logind.shell)
})
afterAll(async () => {
  for (const file of sudoers) rmSync(file, { force: true })
  user?.remove()
  loginUser?.remove()
  await sshd?.stop()
})

async function inputs(name: string, overrides: Record<string, string> = {}) {
  const target = join(sshd.dir, name)
  targets.push(target)
  return deployInputs(sshd, serviceSource(), target, overrides)
}

describe('proxy-command', () => {
  it('carries the connection through its stdin and stdout (socat)', async () => {
    const run = await deploy({
      ...(await inputs('proxy-socat')),
      host: `127.0.0.1:${sshd.port}`,
      'proxy-command': 'socat - TCP:%h:%p',
      sha: sha('1')
    })
    expect(run.outputs.sha).toBe(sha('1'))
  })

  it('that exits before authentication is a connect error naming it and its last line', async () => {
    const run = await deploy(
      {
        ...(await inputs('proxy-exits')),
        'proxy-command': "echo 'tunnel: access denied for %r' >&2; exit 3",
        'connect-retries': '0'
      },
      1
    )
    expect(failureMessage(run)).toContain(
      `connect: proxy-command 'echo 'tunnel: access denied for %r' >&2; exit 3' exited with code 3 before the connection to 127.0.0.1:${sshd.port} was authenticated; its last line: tunnel: access denied for ${sshd.user}`
    )
    expect(run.stdout).toContain(`proxy-command: tunnel: access denied for ${sshd.user}`)
  })
})

describe('connect-retries', () => {
  it('reaches an sshd that comes up 3 s after the deploy starts', async () => {
    const base = await inputs('retries')
    const port = await freePort()
    let late: TestSshd | undefined
    try {
      const run = await runAction(
        {
          ...base,
          host: `127.0.0.1:${port}`,
          'known-hosts': '',
          'insecure-skip-host-key-check': 'true',
          'connect-retries': '4',
          sha: sha('2')
        },
        {
          whileRunning: async () => {
            await new Promise(resolve => setTimeout(resolve, 3000))
            late = await startSshd({ port, user: sshd.user, authorize: [sshd.keys.ed25519] })
          }
        }
      )
      expect(run.code).toBe(0)
      expect(run.stdout).toMatch(
        /^Connecting to 127\.0\.0\.1:\d+ failed \(Connection refused by .*\); retry 1 of 4 in 1 s \(connect-retries\)$/m
      )
    } finally {
      await late?.stop()
    }
  })

  it('tries a wrong key once: an authentication failure is never retried', async () => {
    const run = await deploy(
      { ...(await inputs('wrong-key')), 'private-key': sshd.keys.notAuthorized.text },
      1
    )
    expect(failureMessage(run)).toContain('Authentication failed')
    expect(run.stdout).not.toContain('connect-retries')
  })
})

describe('sudo', () => {
  /** The test service deployed as the test user, with a stop-command that needs sudo. */
  async function sudoInputs(name: string) {
    const port = await freePort()
    return deployInputs(sshd, serviceSource(), `~/${name}`, {
      username: user.name,
      'start-command': `/usr/bin/python3 -m vsdsvc start --port ${port}`,
      'stop-command': 'sudo -n /usr/bin/id -u',
      ports: String(port),
      'version-url': `http://127.0.0.1:${port}/version`
    })
  }

  it('a stop-command that sudo stops for a password gets the sudoers line; with it, no warning', async () => {
    const base = await sudoInputs('sudo-app')
    await deploy({ ...base, sha: sha('3') })
    const asked = await deploy({ ...base, sha: sha('4') })
    expect(asked.stdout).toContain(
      `sudo asked for a password, which a deploy cannot type: allow the deploy user exactly this command without one, with a line in /etc/sudoers.d/${user.name} (edit it with visudo -f): ${user.name} ALL=(root) NOPASSWD: /usr/bin/id -u`
    )
    const rule = `/etc/sudoers.d/vsd-${user.name}`
    sudoers.push(rule)
    writeFileSync(rule, `${user.name} ALL=(root) NOPASSWD: /usr/bin/id -u\n`, { mode: 0o440 })
    execFileSync('visudo', ['-c', '-f', rule])
    const allowed = await deploy({ ...base, sha: sha('5') })
    expect(allowed.stdout).not.toContain('::warning title=stop-command failed')
    expect(allowed.stdout).toContain('stop-command finished')
  })
})

describe('env-file', () => {
  it('writes env as a 0600 file that python-dotenv and systemd read alike, never logged', async () => {
    const base = await inputs('env-file')
    const env = [
      ['PYTHONDONTWRITEBYTECODE', '1'],
      ['API_TOKEN', 'tok-5f3a9c'],
      ['GREETING', `it's "quoted" and $HOME stays`]
    ]
    const run = await deploy({
      ...base,
      env: env.map(([key, value]) => `${key}=${value}`).join('\n'),
      'env-file': '.env',
      'shared-paths': '.env',
      sha: sha('6')
    })
    const file = join(base.target, 'shared', '.env')
    expect(statSync(file).mode & 0o777).toBe(0o600)
    const text = readFileSync(file, 'utf8')
    expect(parseDotenv(text)).toEqual(Object.fromEntries(env))
    expect(parseSystemdEnvironmentFile(text)).toEqual(Object.fromEntries(env))
    // The release reads it through its link.
    expect(readFileSync(join(base.target, 'current', '.env'), 'utf8')).toBe(text)
    expect(run.stdout).not.toContain('tok-5f3a9c')
    expect(run.stdout).toContain('Wrote env-file')
    expect((await versionAnswer(Number(base.ports))).commit).toBe(sha('6'))
  })
})

describe('logind stopping processes at logout', () => {
  it('lingering: deploys, and the service outlives the session; without: verify fails after the session ends, naming the fix, and rolls back', async () => {
    const port = await freePort()
    const base = await deployInputs(sshd, serviceSource(), '~/logind-app', {
      username: loginUser.name,
      'start-command': `/usr/bin/python3 -m vsdsvc start --port ${port}`,
      'stop-command': `/usr/bin/python3 -m vsdsvc stop --port ${port}`,
      ports: String(port),
      'version-url': `http://127.0.0.1:${port}/version`
    })
    const lingering = await deploy({ ...base, sha: sha('6') })
    expect(lingering.stdout).not.toContain('Processes stop at logout')
    expect(lingering.stdout).not.toContain('Ending this SSH session')
    expect((await versionAnswer(port)).commit).toBe(sha('6'))

    logind.set({ KillUserProcesses: 'yes', Linger: 'no' })
    const run = await deploy({ ...base, sha: sha('7') }, 1)
    expect(run.stdout).toContain(
      `::warning title=Processes stop at logout::systemd-logind on 127.0.0.1:${sshd.port} stops ${loginUser.name}'s processes when an SSH session ends`
    )
    expect(run.stdout).toContain(
      `Ending this SSH session and asking http://127.0.0.1:${port}/version again over a new connection`
    )
    const message = failureMessage(run)
    expect(message).toMatch(
      new RegExp(
        `verify: the service reported ${sha('7').slice(0, 12)} until the action's SSH session ended, then no HTTP answer .*: it stopped with the session\\. systemd-logind on \\S+ stops ${loginUser.name}'s processes at logout`
      )
    )
    expect(message).toContain(`Fix, as root on the host: loginctl enable-linger ${loginUser.name}`)
    expect(run.stdout).toMatch(/::error title=Deploy to \S+ failed in verify; rolled back::/)
  })
})

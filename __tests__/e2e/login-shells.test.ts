/**
 * The deploy user's login shell is not the action's: whatever its start-up files print (on
 * stdout, on stderr, without a final newline), the deploy reads its own output, shows that noise
 * once as the login shell's, and starts the login shell once per connection.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { logShows, runAction } from '../support/action.js'
import { deploy, deployInputs } from '../support/deploy.js'
import { runnerCommands } from '../support/runner-commands.js'
import { serviceSource, sha, versionAnswer } from '../support/service.js'
import { freePort, startSshd, type TestSshd } from '../support/sshd.js'
import { write } from '../support/tree.js'
import { createUser, type TestUser } from '../support/users.js'
import { wheelhouse } from '../support/wheels.js'

/** Each start-up file appends a line here, so the test counts logins. */
const COUNT = 'echo login >> "$HOME/logins"'

/** Login shells whose start-up files print, the way real hosts' do. */
const NOISY: { label: string; shell: string; files: Record<string, string>; shows: string[] }[] = [
  {
    label: 'bash: .bashrc and .profile, stdout and stderr, workflow-command lookalikes',
    shell: '/bin/bash',
    files: {
      '.bashrc': [
        'echo "Welcome to $(hostname)"',
        "echo 'Last deploy: yesterday' >&2",
        "echo '::warning::the login shell says so'",
        "echo 'text ##[error]from the login shell'",
        COUNT
      ].join('\n'),
      '.profile': 'echo "Welcome to $(hostname), login shell"\n'
    },
    shows: ['Welcome to ', 'Last deploy: yesterday']
  },
  {
    label: 'bash: printf without a final newline, on both streams',
    shell: '/bin/bash',
    files: { '.bashrc': `printf 'hi'\nprintf 'err' >&2\n${COUNT}\n` },
    shows: ['hi', 'err']
  },
  {
    label: 'zsh: .zshenv',
    shell: '/usr/bin/zsh',
    files: { '.zshenv': `echo zshenv says hi\n${COUNT}\n` },
    shows: ['zshenv says hi']
  },
  {
    label: 'fish: config.fish',
    shell: '/usr/bin/fish',
    files: {
      '.config/fish/config.fish': 'echo fish says hi\necho fish warns >&2\necho login >> ~/logins\n'
    },
    shows: ['fish says hi', 'fish warns']
  },
  {
    label: 'tcsh: .cshrc',
    shell: '/usr/bin/tcsh',
    files: { '.cshrc': 'echo tcsh says hi\necho login >> ~/logins\n' },
    shows: ['tcsh says hi']
  }
]

let sshd: TestSshd
const users = new Map<string, TestUser>()
const wheels = wheelhouse('vsddep', '1.0')

beforeAll(async () => {
  sshd = await startSshd({ extraConfig: ['AuthorizedKeysFile .ssh/authorized_keys'] })
  for (const { label, shell, files } of NOISY)
    users.set(label, createUser(sshd, 'vsdnoise', shell, files))
})
afterAll(async () => {
  for (const user of users.values()) user.remove()
  await sshd?.stop()
})

/** The test service, importing a dependency from its venv, as `user` to ~/app. */
async function inputsFor(user: TestUser, overrides: Record<string, string> = {}) {
  const source = serviceSource()
  write(source, 'DEPENDENCY', 'vsddep\n')
  write(source, 'requirements.txt', 'vsddep==1.0\n')
  const port = await freePort()
  return {
    port,
    inputs: {
      ...(await deployInputs(sshd, source, '~/app')),
      username: user.name,
      // python3 is the venv's: the service imports the dependency from it.
      'start-command': `python3 -m vsdsvc start --port ${port}`,
      'stop-command': `python3 -m vsdsvc stop --port ${port} || echo "it's stopped"`,
      ports: String(port),
      'version-url': `http://127.0.0.1:${port}/version`,
      'python-requirements': 'requirements.txt',
      env: `PYTHONDONTWRITEBYTECODE=1\nPIP_NO_INDEX=1\nPIP_FIND_LINKS=${wheels}\nPIP_DISABLE_PIP_VERSION_CHECK=1`,
      ...overrides
    }
  }
}

const logins = (user: TestUser): number => {
  const file = join(user.home, 'logins')
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).length : 0
}

/** Kills the user's sshd processes: its connections (the test's own user: nothing else is hit). */
const dropConnections = (user: TestUser) =>
  execFileSync('pkill', ['-KILL', '-u', user.name, 'sshd'])

describe('login shells whose start-up files print', () => {
  it.each(NOISY)('$label: deploys twice, one login per run', async ({ label, shows }) => {
    const user = users.get(label) as TestUser
    const { port, inputs } = await inputsFor(user)
    const before = logins(user)
    const first = await deploy({ ...inputs, sha: sha('e') })
    expect(logins(user)).toBe(before + 1)
    const second = await deploy({ ...inputs, sha: sha('f') })
    expect(logins(user)).toBe(before + 2)
    expect(second.outputs['venv-reused']).toBe('true')
    expect((await versionAnswer(port)).commit).toBe(sha('f'))
    for (const run of [first, second]) {
      // Shown once, labelled as the login shell's, never as the action's own output.
      const heading = run.stdout.match(/^The login shell on \S+ printed this before/gm) ?? []
      expect(heading).toHaveLength(1)
      const noise = run.stdout.slice(run.stdout.indexOf(heading[0] as string))
      for (const text of shows) expect(noise).toContain(`  ${text}`)
      // Nothing it printed is a workflow command: the runner would act on the action's only.
      expect(
        runnerCommands(run.stdout).filter(line => /shell says so|from the login shell/.test(line))
      ).toEqual([])
      expect(run.stdout).not.toMatch(/@@[0-9a-f]{12} /)
    }
  })

  it('a connection cut during the restart: the re-read finds the step through the noise, with one login more', async () => {
    const user = users.get(NOISY[0].label) as TestUser
    const { port, inputs } = await inputsFor(user, { 'stop-command': 'sleep 2' })
    await deploy({ ...inputs, sha: sha('1') })
    const before = logins(user)
    const cut = await runAction(
      { ...inputs, sha: sha('2') },
      {
        whileRunning: async child => {
          await logShows(child, /::group::\S+: stop\n/)
          dropConnections(user)
        }
      }
    )
    expect(cut.stdout).toMatch(
      /^Following the host step was cut off \(.*\); reading its output again$/m
    )
    expect(cut.code).toBe(0)
    expect((await versionAnswer(port)).commit).toBe(sha('2'))
    // The login of the run, and one for the reconnect.
    expect(logins(user)).toBe(before + 2)
    expect(cut.stdout).not.toMatch(/@@[0-9a-f]{12} /)
  })
})

/**
 * The action's own processes survive what users run: stop-commands with `pkill -f` patterns that
 * match the service (and so, before, the action's host step), and no user text or secret in any
 * command line on the host (login shells of every kind: login-shells.test.ts). The broad patterns run in PID namespaces of their
 * own (each with its own sshd), so they can only reach what the deploy started there.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { randomBytes } from 'node:crypto'
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  writeFileSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { deploy, deployInputs, failureMessage } from '../support/deploy.js'
import {
  isRunning,
  processesOfTarget,
  SERVICE_DIR,
  serviceSource,
  sha,
  versionAnswer
} from '../support/service.js'
import { startSshd, type TestSshd } from '../support/sshd.js'

/** Debian's interpreter, which has gunicorn and flask. */
const PYTHON = '/usr/bin/python3'

interface Service {
  name: string
  /** The source tree to ship. */
  source: () => string
  start: (port: number) => string
  extra?: Record<string, string>
}

const gunicorn = (daemon: boolean): Service => ({
  name: daemon ? 'gunicorn --daemon' : 'gunicorn',
  source: () => {
    const dir = mkdtempSync(join(tmpdir(), 'vsd-app-'))
    copyFileSync(join(SERVICE_DIR, 'apps', 'wsgiapp.py'), join(dir, 'wsgiapp.py'))
    return dir
  },
  // From the release's absolute path, so a pattern naming the target matches the service.
  start: port =>
    `${PYTHON} -m gunicorn ${daemon ? '--daemon ' : ''}--chdir "$DEPLOY_RELEASE" -w 2 -b 127.0.0.1:${port} wsgiapp:app`
})

/**
 * Like Chatchat's `python chatchat/cli.py start -a`: a launcher whose multiprocessing-spawned worker
 * holds the port, with a command line (`python -c "from multiprocessing.spawn …"`) naming neither.
 */
const chatchatLike: Service = {
  name: 'a Chatchat-like launcher',
  source: () => {
    const dir = serviceSource()
    mkdirSync(join(dir, 'chatchat'))
    writeFileSync(
      join(dir, 'chatchat', 'cli.py'),
      [
        'import os, sys',
        'sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))',
        'from vsdsvc.service import main',
        'if __name__ == "__main__":',
        '    sys.argv = ["vsdsvc", "start"]',
        '    main()',
        ''
      ].join('\n')
    )
    return dir
  },
  // Run from source as its README says, so the command line holds the release's path.
  start: () => 'python3 "$DEPLOY_RELEASE/chatchat/cli.py" start -a',
  extra: { env: 'PYTHONDONTWRITEBYTECODE=1\nVSDSVC_PORT=%PORT%' }
}

/** The stop-commands users write that matched the action's own host step (TARGET: the target path). */
const cases: [Service, string][] = [
  [gunicorn(false), 'pkill -f "gunicorn"'],
  [gunicorn(false), "pkill -f '[g]unicorn'"],
  [gunicorn(false), 'pkill -f TARGET'],
  [gunicorn(true), 'pkill -f "gunicorn"'],
  [gunicorn(true), "pkill -f '[g]unicorn'"],
  [chatchatLike, "pkill -9 -f 'chatchat/cli.py start'"],
  [chatchatLike, "pkill -9 -f '[c]hatchat/cli.py start' || true"],
  [chatchatLike, 'pkill -f TARGET']
]

async function inputsFor(sshd: TestSshd, service: Service, stopCommand: string) {
  const target = join(sshd.dir, 'srv app')
  const base = await deployInputs(sshd, service.source(), target)
  const port = Number(base.ports)
  const extra = Object.fromEntries(
    Object.entries(service.extra ?? {}).map(([key, value]) => [
      key,
      value.replace('%PORT%', String(port))
    ])
  )
  return {
    target,
    port,
    inputs: {
      ...base,
      ...extra,
      'start-command': service.start(port),
      'stop-command': stopCommand.replace('TARGET', `'${target}'`),
      'version-timeout': '60'
    }
  }
}

describe('stop-commands that match the service with pkill -f', () => {
  it.each(cases.map(([service, stop]) => [service.name, stop, service] as const))(
    '%s, stopped by %s: both deploys pass, every old process is gone',
    async (_name, stopCommand, service) => {
      const sshd = await startSshd({ pidNamespace: true })
      try {
        const { target, port, inputs } = await inputsFor(sshd, service, stopCommand)
        await deploy({ ...inputs, sha: sha('a') })
        expect((await versionAnswer(port)).commit).toBe(sha('a'))
        const before = processesOfTarget(target)
        expect(before.length).toBeGreaterThan(0)

        await deploy({ ...inputs, sha: sha('b') })
        expect((await versionAnswer(port)).commit).toBe(sha('b'))
        expect(before.filter(isRunning)).toEqual([])
      } finally {
        await sshd.stop()
      }
    }
  )
})

describe('a stop-command that kills the action’s own processes too', () => {
  it('is named as the likely cause, with what serves now; the deploy rolls back', async () => {
    const sshd = await startSshd({ pidNamespace: true })
    try {
      const target = join(sshd.dir, 'app')
      const base = await deployInputs(sshd, serviceSource(), target)
      await deploy({ ...base, sha: sha('c') })
      const port = Number(base.ports)
      // Every shell of the action's (and the stop-command's own): the pattern is far too broad.
      const result = await deploy(
        { ...base, sha: sha('d'), 'stop-command': "pkill -9 -f 'sh -c'" },
        1
      )
      const message = failureMessage(result)
      expect(message).toMatch(
        /stop: the action's own host step \(PID \d+\) was killed( by SIGKILL)? during stop, before it finished\. The stop-command is the likely cause: it matches the action's own processes as well as the service's/
      )
      expect(message).toContain(
        `On the host now: current -> releases/${readdirSync(join(target, 'releases')).sort()[0]}; port ${port} is held by `
      )
      // The rollback runs the same stop-command, which kills its step too: said, not hidden.
      expect(message).toMatch(
        /The rollback to \S+ \(c{12}\) also failed: .*was killed.* during stop/
      )
      expect(readFileSync(join(target, '.deploy/restart.log'), 'utf8')).toMatch(
        /ended without finishing: something on the host killed it/
      )
    } finally {
      await sshd.stop()
    }
  })
})

/** Every command line on this machine now, NULs as spaces. */
function commandLines(): string[] {
  const lines: string[] = []
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue
    try {
      lines.push(readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0/g, ' '))
    } catch {
      // gone
    }
  }
  return lines
}

describe('command lines on the host', () => {
  const token = `tok${randomBytes(8).toString('hex')}`
  const trace = join(mkdtempSync(join(tmpdir(), 'vsd-trace-')), 'execs')
  let sshd: TestSshd
  beforeAll(async () => (sshd = await startSshd({ pidNamespace: true, traceExecs: trace })))
  afterAll(async () => await sshd?.stop())

  it('hold no target path, env value, stop- or start-command or process-match while two deploys run', async () => {
    // A first deploy creates the target's missing part by name (mkdir needs one): never the whole path.
    const targets = ['one', 'two'].map(name => join(sshd.dir, `${name} it's $(x)`))
    const deployOf = async (target: string) => {
      const base = await deployInputs(sshd, serviceSource(), target)
      return {
        ...base,
        env: `PYTHONDONTWRITEBYTECODE=1\nAPI_TOKEN=${token}`,
        // Comments and quotes make each raw text one that no command's argv holds unless leaked.
        'start-command': `exec ${base['start-command']} # start ${token}`,
        'stop-command': `test -n "$API_TOKEN" # stop ${token}`,
        'process-match': `vsdsv[c] start --port ${base.ports}|${token}`
      }
    }
    const inputs = await Promise.all(targets.map(deployOf))
    const leaks = (line: string) =>
      line.includes(token) || targets.some(path => line.includes(path))
    const seen = new Set<string>()
    let polling = true
    const poll = (async () => {
      while (polling) {
        for (const line of commandLines()) if (leaks(line)) seen.add(line)
        await new Promise(resolve => setTimeout(resolve, 50))
      }
    })()
    try {
      for (const commit of ['1', '2']) {
        await Promise.all(inputs.map(each => deploy({ ...each, sha: sha(commit) })))
      }
    } finally {
      polling = false
      await poll
    }
    expect([...seen]).toEqual([])
    // strace saw every program started on the host, however short-lived: none was given them.
    const execs = readFileSync(trace, 'utf8')
      .split('\n')
      .filter(line => line.includes('execve('))
    expect(execs.length).toBeGreaterThan(100)
    expect(execs.filter(leaks)).toEqual([])
  })
})

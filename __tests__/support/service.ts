/** The test service (`__tests__/service/vsdsvc`) and helpers to deploy it and ask it questions. */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import {
  appendFileSync,
  copyFileSync,
  cpSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  writeFileSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PROJECT_ROOT } from './action.js'
import type { TestSshd } from './sshd.js'

export const SERVICE_DIR = join(PROJECT_ROOT, '__tests__', 'service')

/** A source tree holding the test service. */
export function serviceSource(): string {
  const dir = mkdtempSync(join(tmpdir(), 'vsd-svc-'))
  cpSync(join(SERVICE_DIR, 'vsdsvc'), join(dir, 'vsdsvc'), { recursive: true })
  return dir
}

/** Makes the service in `source` start but never answer: it hangs before binding its port. */
export function breakService(source: string): void {
  appendFileSync(join(source, 'vsdsvc/__init__.py'), 'import time\ntime.sleep(600)\n')
}

/**
 * Inputs that deploy a fresh copy of the test service to ~/app on a host of its own (a network
 * namespace), serving on that host's loopback port 8000.
 */
export function namespacedServiceInputs(): Record<string, string> {
  return {
    source: serviceSource(),
    target: '~/app',
    'start-command': 'python3 -m vsdsvc start --port 8000',
    ports: '8000',
    'version-url': 'http://127.0.0.1:8000/version',
    'stable-for': '0',
    env: 'PYTHONDONTWRITEBYTECODE=1'
  }
}

export function startCommand(port: number, flags = ''): string {
  return `python3 -m vsdsvc start --port ${port} ${flags}`.trim()
}

/** What /version answers, or undefined when nothing answers. */
export async function reportedCommit(port: number): Promise<string | undefined> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/version`, {
      signal: AbortSignal.timeout(2000)
    })
    return ((await response.json()) as { commit: string }).commit
  } catch {
    return undefined
  }
}

/** Polls /version until it reports `commit` (the tests' stand-in for the verify phase). */
export async function waitForCommit(
  port: number,
  commit: string,
  timeoutMs = 15_000
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last: string | undefined
  while (Date.now() < deadline) {
    last = await reportedCommit(port)
    if (last === commit) return
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  throw new Error(`port ${port} reported ${last ?? 'nothing'}, expected ${commit}`)
}

/**
 * Starts the service by hand as the deploy user, as someone would before the first deploy: its
 * own session, detached.
 */
export function startByHand(sshd: TestSshd, port: number, commit: string): ChildProcess {
  const dir = serviceSource()
  writeFileSync(join(dir, 'REVISION'), `${commit}\n`)
  sshd.handOver(dir)
  const child = spawn('setsid', [DEBIAN_PYTHON, '-m', 'vsdsvc', 'start', '--port', String(port)], {
    ...sshd.asDeployUser,
    cwd: dir,
    stdio: 'ignore',
    detached: true
  })
  child.unref()
  return child
}

/** Kills the whole process group of every test service listening on `port` (cleanup). */
export function killServiceOnPort(port: number): void {
  let pids: string[]
  try {
    pids = execFileSync('pgrep', ['-f', `vsdsvc start --port ${port}( |$)`], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
  } catch {
    return // pgrep exits 1 when nothing matches
  }
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      process.kill(-Number(stat.replace(/.*\) /s, '').split(' ')[2]), 'SIGKILL')
    } catch {
      // already gone
    }
  }
}

export const sha = (digit: string) => digit.repeat(40)

/** Debian's interpreter, which has gunicorn, uvicorn, fastapi and flask (PATH may hold another). */
export const DEBIAN_PYTHON = '/usr/bin/python3'

/** A new source tree holding one of the test apps (`apps/`), for the real servers to serve. */
export function appSource(app: string, parent = tmpdir()): string {
  const source = mkdtempSync(join(parent, 'vsd-app-'))
  copyFileSync(join(SERVICE_DIR, 'apps', app), join(source, app))
  return source
}

/** The port holder's marker (hold-ports): the target it holds the ports of. */
export const HOLDER = 'VERIFIED_SSH_DEPLOY_HOLDER'

/** PIDs of the processes whose environment says they were started for `target` (DEPLOY_TARGET, or `name`). */
export function processesOfTarget(target: string, name = 'DEPLOY_TARGET'): number[] {
  const marker = `${name}=${target}`
  return readdirSync('/proc')
    .filter(name => /^\d+$/.test(name))
    .filter(pid => {
      try {
        return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(marker)
      } catch {
        return false
      }
    })
    .map(Number)
}

/** SIGKILLs every process a deploy started for `target` (cleanup for servers tests can't pgrep). */
export function killTargetProcesses(target: string): void {
  for (const pid of [...processesOfTarget(target), ...processesOfTarget(target, HOLDER)]) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
}

/** Whether `pid` is a live (non-zombie) process. */
export function isRunning(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return false
  }
}

export interface VersionAnswer {
  commit: string
  pid: number
  ppid?: number
}

/** The /version body of the service on `port` (throws when nothing answers). */
export async function versionAnswer(port: number): Promise<VersionAnswer> {
  const response = await fetch(`http://127.0.0.1:${port}/version`, {
    signal: AbortSignal.timeout(2000)
  })
  return (await response.json()) as VersionAnswer
}

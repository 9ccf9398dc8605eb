/**
 * The downtime case of `npm run bench`: the test service deployed again and again while a client
 * on the host asks it for /version every 10 ms. The gap that client sees, less the service's own
 * shutdown tail and start-up (which it records itself), is what the restart added.
 */
import { execFileSync, spawn } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { join } from 'node:path'
import { runAction } from '../__tests__/support/action.js'
import { serviceSource, sha } from '../__tests__/support/service.js'
import { freePort, type TestSshd } from '../__tests__/support/sshd.js'
import { quote } from '../src/remote/shell.js'
import type { Link } from './link.js'

export interface DowntimeSample {
  /** From the last answer of the old code to the first of the new, as the client saw it. */
  gapMs: number
  /** The service's own part of that: its shutdown after its last answer, and its start-up. */
  ownMs: number
  addedMs: number
}

interface Answer {
  at: number
  commit?: string
}

/** Asks /version every 10 ms on a fresh connection until stopped; returns every answer. */
function pollVersion(port: number): { answers: Answer[]; stop: () => Promise<Answer[]> } {
  const answers: Answer[] = []
  let running = true
  const once = (): Promise<void> =>
    new Promise(resolve => {
      const req = request(
        { host: '127.0.0.1', port, path: '/version', agent: false, timeout: 500 },
        response => {
          let body = ''
          response.on('data', chunk => (body += chunk))
          response.on('end', () => {
            try {
              answers.push({
                at: Date.now(),
                commit: (JSON.parse(body) as { commit: string }).commit
              })
            } catch {
              answers.push({ at: Date.now() })
            }
            resolve()
          })
        }
      )
      req.on('timeout', () => req.destroy())
      req.on('error', () => {
        answers.push({ at: Date.now() })
        resolve()
      })
      req.end()
    })
  const loop = (async () => {
    while (running) {
      await once()
      await new Promise(resolve => setTimeout(resolve, 10))
    }
  })()
  return {
    answers,
    stop: async () => {
      running = false
      await loop
      return answers
    }
  }
}

/** The gap between the old commit's last answer and the new one's first, and when it began. */
function gapOf(answers: Answer[], oldCommit: string, newCommit: string) {
  const first = answers.findIndex(answer => answer.commit === newCommit)
  if (first < 0) throw new Error(`the poller never saw ${newCommit}`)
  const lastOld = answers
    .slice(0, first)
    .reverse()
    .find(answer => answer.commit === oldCommit)
  if (!lastOld) throw new Error(`the poller never saw ${oldCommit} before ${newCommit}`)
  return { lastOldAt: lastOld.at, gapMs: answers[first].at - lastOld.at }
}

/** Whether `pid` is a live (non-zombie) process. */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return false
  }
}

/**
 * Watches the old service's processes every 5 ms from here (the same machine) and resolves with
 * when the last one was gone: its shutdown ends there, whatever each process does on SIGTERM
 * (multiprocessing's resource tracker ignores it and leaves when its pipe closes).
 */
function lastExit(pids: number[]): { stop: () => Promise<number> } {
  let gone = 0
  let running = true
  const loop = (async () => {
    while (running) {
      if (pids.every(pid => !alive(pid))) {
        gone = Date.now()
        return
      }
      await new Promise(resolve => setTimeout(resolve, 5))
    }
  })()
  return {
    stop: async () => {
      await Promise.race([loop, new Promise(resolve => setTimeout(resolve, 30_000))])
      running = false
      return gone
    }
  }
}

/**
 * The service's own time in the gap: its shutdown after its last answer (until its last process
 * was gone) and its start-up (process creation to listening, as it records them; see vsdsvc).
 */
function ownTime(timingsFile: string, lastOldAt: number, oldGoneAt: number): number {
  const events = readFileSync(timingsFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map(line => {
      const [event, ms] = line.split(' ')
      return { event, ms: Number(ms) }
    })
  const at = (event: string) => events.filter(e => e.event === event).map(e => e.ms)
  const shutdownTail = Math.max(0, oldGoneAt - lastOldAt)
  const startUp = Math.max(...at('listen')) - Math.min(...at('started'))
  return shutdownTail + startUp
}

/** Every process of the test service on `port`: its processes and their process groups. */
function servicePids(port: number): number[] {
  const out = execFileSync(
    'sh',
    [
      '-c',
      `for g in $(pgrep -f ${quote(`vsdsvc start --port ${port}$`)}); do pgrep -g "$g"; done | sort -u`
    ],
    { encoding: 'utf8' }
  )
  return out.split('\n').filter(Boolean).map(Number)
}

export class DowntimeBench {
  constructor(
    private readonly sshd: TestSshd,
    private readonly link: Link,
    private readonly knownHosts: string,
    private readonly sshCommand: string[],
    private readonly hostDir: string
  ) {}

  /** One transition: `restart` replaces the service answering `oldCommit` with `newCommit`. */
  private async transition(
    port: number,
    timings: string,
    oldCommit: string,
    newCommit: string,
    restart: () => Promise<void>
  ): Promise<DowntimeSample> {
    writeFileSync(timings, '')
    const oldPids = servicePids(port)
    const exited = lastExit(oldPids)
    const poller = pollVersion(port)
    await restart()
    const deadline = Date.now() + 30_000
    while (!poller.answers.some(answer => answer.commit === newCommit) && Date.now() < deadline)
      await new Promise(resolve => setTimeout(resolve, 50))
    const answers = await poller.stop()
    const { lastOldAt, gapMs } = gapOf(answers, oldCommit, newCommit)
    const ownMs = ownTime(timings, lastOldAt, await exited.stop())
    return { gapMs, ownMs, addedMs: gapMs - ownMs }
  }

  /** The action: deployed once to start, then `reps` redeploys, each measured. */
  async action(reps: number): Promise<DowntimeSample[]> {
    const port = await freePort()
    const target = join(this.hostDir, this.link.profile.name, 'downtime-action')
    rmSync(target, { recursive: true, force: true })
    const timings = join(this.hostDir, `timings-action-${port}`)
    const inputs = (commit: string) => ({
      host: `127.0.0.1:${this.link.port}`,
      username: this.sshd.user,
      'private-key': this.sshd.keys.ed25519.text,
      'known-hosts': this.knownHosts,
      source: serviceSource(),
      target,
      'start-command': `python3 -m vsdsvc start --port ${port}`,
      ports: String(port),
      'version-url': `http://127.0.0.1:${port}/version`,
      'stable-for': '0',
      env: `PYTHONDONTWRITEBYTECODE=1\nVSDSVC_TIMINGS=${timings}`,
      sha: commit
    })
    const deploy = async (commit: string) => {
      const result = await runAction(inputs(commit), { timeoutMs: 120_000 })
      if (result.code !== 0) throw new Error(`bench deploy failed:\n${result.stdout}`)
    }
    const samples: DowntimeSample[] = []
    try {
      await deploy(sha('a'))
      for (let rep = 0; rep < reps; rep++) {
        const [from, to] = rep % 2 === 0 ? [sha('a'), sha('b')] : [sha('b'), sha('a')]
        samples.push(await this.transition(port, timings, from, to, () => deploy(to)))
      }
    } finally {
      execFileSync('sh', ['-c', `pkill -KILL -f ${quote(`vsdsvc start --port ${port}$`)} || true`])
    }
    return samples
  }

  /**
   * What a user would script in a plain SSH step: kill the process group, sleep 1, start the new
   * code with nohup. (The curl loop that follows is not part of the gap.)
   */
  async naive(reps: number): Promise<DowntimeSample[]> {
    const port = await freePort()
    const base = join(this.hostDir, this.link.profile.name, 'downtime-naive')
    const timings = join(this.hostDir, `timings-naive-${port}`)
    for (const commit of [sha('a'), sha('b')]) {
      const dir = join(base, commit.slice(0, 1))
      mkdirSync(dir, { recursive: true })
      execFileSync('cp', ['-r', join(serviceSource(), 'vsdsvc'), dir])
      writeFileSync(join(dir, 'REVISION'), `${commit}\n`)
    }
    // The test service's own PID file, per user as it writes it.
    const pidfile = `/tmp/vsdsvc-$(id -u)-${port}.pid`
    const start = (commit: string) =>
      `(cd ${quote(join(base, commit.slice(0, 1)))} && VSDSVC_TIMINGS=${quote(timings)} exec setsid nohup python3 -m vsdsvc start --port ${port}) > /dev/null 2>&1 < /dev/null &`
    const ssh = (script: string) =>
      new Promise<void>((resolve, reject) => {
        const child = spawn(
          this.sshCommand[0],
          [...this.sshCommand.slice(1), `${this.sshd.user}@127.0.0.1`, script],
          { stdio: 'ignore' }
        )
        child.on('close', code => (code === 0 ? resolve() : reject(new Error(`ssh: ${code}`))))
      })
    const samples: DowntimeSample[] = []
    try {
      await ssh(start(sha('a')))
      await new Promise(resolve => setTimeout(resolve, 1500))
      for (let rep = 0; rep < reps; rep++) {
        const [from, to] = rep % 2 === 0 ? [sha('a'), sha('b')] : [sha('b'), sha('a')]
        samples.push(
          await this.transition(port, timings, from, to, () =>
            ssh(`kill -TERM -- -$(cat ${pidfile}); sleep 1; ${start(to)}`)
          )
        )
      }
    } finally {
      execFileSync('sh', ['-c', `pkill -KILL -f ${quote(`vsdsvc start --port ${port}$`)} || true`])
    }
    return samples
  }
}

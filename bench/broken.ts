/**
 * The broken-releases case of `npm run bench`: Debian's gunicorn serving the Flask test app (as the
 * refused-connections case runs it) is
 * deployed good, then broken in one way, then good again, while a client on the host opens a fresh
 * connection 100 times a second. Per kind of breakage and per mode (without and with hold-ports):
 * the requests that failed during the broken deploy, the longest gap with no successful answer,
 * and the broken deploy's wall time. The action must fail the broken deploy and put the good
 * release back; what clients lose meanwhile is the figure.
 */
import { appendFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runAction } from '../__tests__/support/action.js'
import { startLoad } from '../__tests__/support/load.js'
import { appSource, DEBIAN_PYTHON, killTargetProcesses, sha } from '../__tests__/support/service.js'
import { freePort, type TestSshd } from '../__tests__/support/sshd.js'
import { onHost, SERVERS } from './refused.js'

/** The server the case deploys: refused.ts's gunicorn. */
const GUNICORN = SERVERS[0]

/** How a release is broken, as a change to the app's source. */
export const KINDS: { name: string; breaks: (app: string) => void }[] = [
  {
    name: 'import error at start',
    breaks: app => appendFileSync(app, '\nraise ImportError("broken release")\n')
  },
  {
    name: 'crash 2 s after start',
    breaks: app =>
      appendFileSync(
        app,
        '\nimport signal, threading\nthreading.Timer(2, lambda: os.kill(os.getppid(), signal.SIGKILL)).start()\n'
      )
  },
  {
    name: 'never answers',
    breaks: app => appendFileSync(app, '\nimport time\ntime.sleep(600)\n')
  },
  {
    name: 'answers a wrong commit',
    breaks: app =>
      writeFileSync(
        app,
        readFileSync(app, 'utf8').replace(
          'COMMIT = stamp.read().strip()',
          'COMMIT = "0" * 40  # reports another commit than its stamp'
        )
      )
  }
]

/** How the action restarts: stop then start; the same on held sockets; or the new beside the old. */
export const MODES = [
  { holdPorts: false, overlap: false },
  { holdPorts: true, overlap: false },
  { holdPorts: true, overlap: true }
] as const

export interface BrokenSample {
  kind: string
  holdPorts: boolean
  overlap: boolean
  sent: number
  /** Requests refused, reset or failed while the broken release was deployed and undone. */
  failed: number
  /** The longest time the client went without a successful answer, in ms. */
  longestGapMs: number
  /** The broken deploy's wall time, in s. */
  deploySeconds: number
}

/** Good, broken (measured), good again: one kind of breakage in one mode. */
export async function brokenRelease(
  sshd: TestSshd,
  hostDir: string,
  kind: (typeof KINDS)[number],
  mode: (typeof MODES)[number]
): Promise<BrokenSample> {
  const { holdPorts, overlap } = mode
  const port = await freePort()
  const target = join(hostDir, `broken-${port}`)
  const good = appSource('wsgiapp.py', hostDir)
  const bad = appSource('wsgiapp.py', hostDir)
  kind.breaks(join(bad, 'wsgiapp.py'))
  const inputs = (source: string, commit: string) => ({
    ...onHost(sshd),
    source,
    target,
    'start-command': GUNICORN.command(port, holdPorts),
    ports: String(port),
    'hold-ports': String(holdPorts),
    overlap: String(overlap),
    python: DEBIAN_PYTHON,
    'version-url': `http://127.0.0.1:${port}/version`,
    'version-timeout': '15',
    'stable-for': '2',
    sha: commit
  })
  const deploy = async (source: string, commit: string, expected: number) => {
    const started = performance.now()
    const result = await runAction(inputs(source, commit), { timeoutMs: 180_000 })
    if (result.code !== expected)
      throw new Error(`bench deploy of ${commit} exited ${result.code}:\n${result.stdout}`)
    return (performance.now() - started) / 1000
  }
  try {
    // With hold-ports, this first deploy starts the port holder: the broken one can overlap.
    await deploy(good, sha('a'), 0)
    const client = startLoad(port, 100)
    const deploySeconds = await deploy(bad, sha('b'), 1)
    // A second of answers after the broken deploy ended: the gap is closed by the good release.
    await new Promise(resolve => setTimeout(resolve, 1000))
    const load = await client.stop()
    await deploy(good, sha('c'), 0)
    const times = load.answers.map(answer => answer.sentAt).sort((a, b) => a - b)
    const longestGapMs = Math.max(0, ...times.slice(1).map((at, index) => at - times[index]))
    return {
      kind: kind.name,
      holdPorts,
      overlap,
      sent: load.sent,
      failed: load.refused + load.reset + load.failed,
      longestGapMs,
      deploySeconds: Number(deploySeconds.toFixed(2))
    }
  } finally {
    killTargetProcesses(target)
    for (const dir of [good, bad]) rmSync(dir, { recursive: true, force: true })
  }
}

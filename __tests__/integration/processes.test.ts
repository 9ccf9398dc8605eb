/**
 * The host-side service-finding functions, run by /bin/sh here. Tests that signal anything run in a
 * PID namespace of their own (unshare), so they can only reach the processes they started.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { hostLibrary } from '../../src/remote/host-library.js'
import { stepKeyScript } from '../../src/remote/protocol.js'
import { CONTROL_MARKER } from '../../src/remote/remote.js'
import { stopBody } from '../../src/commands/stop.js'
import { joinCode } from '../../src/remote/shell.js'

/** The key of the sample host step's markers. */
const KEY = '0123456789ab'

/** A directory of symlinks to the tools the functions use, `skip` left out, `awk` replaceable. */
function toolDir(skip: string[] = [], awk?: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'vsd-tools-'))
  const tools = ['cat', 'awk', 'sed', 'cut', 'tr', 'find', 'sort', 'grep', 'printf', 'sleep', 'ss']
  for (const tool of tools.filter(name => !skip.includes(name))) {
    const path = execFileSync('sh', ['-c', `command -v ${tool} || true`], {
      encoding: 'utf8'
    }).trim()
    if (path.startsWith('/')) symlinkSync(path, join(dir, tool))
  }
  if (awk) {
    execFileSync('rm', ['-f', join(dir, 'awk')])
    const [program, ...args] = awk
    const where = execFileSync('sh', ['-c', `command -v ${program}`], { encoding: 'utf8' }).trim()
    writeFileSync(join(dir, 'awk'), `#!/bin/sh\nexec ${where} ${args.join(' ')} "$@"\n`, {
      mode: 0o755
    })
  }
  return dir
}

/** Runs the shared functions plus `body` in sh, as one of the action's commands, with `path`. */
function probe(body: string, path = process.env.PATH ?? ''): string {
  return execFileSync('/bin/sh', ['-c', `${hostLibrary().text}\n${body}`], {
    encoding: 'utf8',
    env: { PATH: path, [CONTROL_MARKER]: '1' }
  }).trim()
}

interface NamespaceRun {
  code: number
  stdout: string
  stderr: string
  /** What `after` printed (on fd 3), once the script has run. */
  after: string
}

/**
 * In a new PID namespace: runs `setup` (which starts the processes the test is about), then
 * `script` as the action runs its commands (with the control marker), then `after`.
 */
function inNamespace(setup: string, script: string, after: string): NamespaceRun {
  const outer = `${setup}
sleep 0.5
env ${CONTROL_MARKER}=1 sh -c "$1"
code=$?
sleep 0.5
{ ${after}; } >&3
exit $code`
  const result = spawnSync(
    'unshare',
    ['--pid', '--fork', '--mount-proc', '/bin/sh', '-c', outer, 'ns', script],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe', 'pipe'], timeout: 30_000 }
  )
  return {
    code: result.status ?? -1,
    stdout: result.stdout,
    stderr: result.stderr,
    after: (result.output[3] as unknown as string) ?? ''
  }
}

/** The stop body in a host step whose markers carry KEY. */
const stop = (pattern: string, target = '/srv/app') =>
  joinCode([
    stepKeyScript(KEY),
    hostLibrary(),
    stopBody({ target, stateFile: '/nonexistent/state.json', pattern })
  ]).text

let server: Server
let port: number
let marked: ChildProcess

beforeAll(async () => {
  server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  port = (server.address() as { port: number }).port
  marked = spawn('sleep', ['60'], {
    detached: true,
    stdio: 'ignore',
    env: { ...process.env, DEPLOY_TARGET: '/srv/with space' }
  })
})
afterAll(() => {
  server.close()
  marked.kill('SIGKILL')
})

describe.each([
  ['ss', toolDir()],
  ['/proc/net/tcp (no ss)', toolDir(['ss'])]
])('port probes with %s', (_name, path) => {
  it('sees a listener and names the process holding it', () => {
    expect(probe(`port_held ${port} && echo held`, path)).toBe('held')
    expect(probe(`port_holders ${port}`, path)).toMatch(new RegExp(`^${process.pid} \\S*node`))
  })

  it('reports a free port as free', async () => {
    const spare = createServer()
    await new Promise<void>(resolve => spare.listen(0, '127.0.0.1', resolve))
    const freed = (spare.address() as { port: number }).port
    await new Promise(resolve => spare.close(resolve))
    expect(probe(`port_held ${freed} && echo held || echo free`, path)).toBe('free')
  })
})

describe.each([
  ['mawk', ['mawk']],
  ['busybox awk (no NUL record separator)', ['busybox', 'awk']]
])('finding processes by their marker with %s', (_name, awk) => {
  it('finds a process by DEPLOY_TARGET, a target with a space included, and no other', () => {
    const path = toolDir([], awk)
    const scan = probe(`service_scan '/srv/with space' /nonexistent '' '' ''`, path)
    expect(scan).toContain(`signal ${marked.pid} ${marked.pid} `)
    expect(scan).toContain('marker carries DEPLOY_TARGET=/srv/with space')
    expect(probe(`service_scan '/srv/with' /nonexistent '' '' ''`, path)).not.toContain(
      `signal ${marked.pid} `
    )
  })
})

describe('stop in a PID namespace of its own', () => {
  it("never signals PID 1, sshd, its own session, the action's commands or another target's service", () => {
    const bin = mkdtempSync(join(tmpdir(), 'vsd-bin-'))
    mkdirSync(bin, { recursive: true })
    symlinkSync(
      execFileSync('sh', ['-c', 'command -v sleep'], { encoding: 'utf8' }).trim(),
      join(bin, 'sshd')
    )
    const run = inNamespace(
      `${bin}/sshd 301 &
DEPLOY_TARGET=/srv/other sleep 302 &
env ${CONTROL_MARKER}=1 sleep 303 &
setsid sleep 304 &`,
      stop('30[1-4]'),
      `for n in 1 2 3 4; do pgrep -f "^(\\S*sshd|sleep) 30$n" >/dev/null && echo "30$n alive" || echo "30$n gone"; done`
    )
    expect(run.code).toBe(0)
    expect(run.stdout).toMatch(/not signalling 1 \(.*\): PID 1/)
    expect(run.stdout).toMatch(/not signalling \d+ \(\S*sshd 301\): an sshd process/)
    expect(run.stdout).toMatch(
      /not signalling \d+ \(sleep 302\): it carries another target's marker \(DEPLOY_TARGET=\/srv\/other\)/
    )
    // The action's own are named by program only.
    expect(run.stdout).toMatch(/not signalling \d+ \(sleep\): a command of this action/)
    expect(run.stdout).toMatch(/SIGTERM to \d+ \(sleep 304\): matched by process-match/)
    expect(run.after.split('\n')).toEqual(['301 alive', '302 alive', '303 alive', '304 gone', ''])
  })

  it("names its own session by program, not by its command line (the action's script)", () => {
    // The stop's own shell has the whole script in its argv, stop_target= and all.
    const run = inNamespace('setsid sleep 305 &', stop('stop_target|sleep 305'), 'true')
    expect(run.code).toBe(0)
    expect(run.stdout).toMatch(/^not signalling \d+ \(sh\): the action's own session$/m)
    expect(run.stdout).toMatch(/SIGTERM to \d+ \(sleep 305\): matched by process-match/)
    const own = run.stdout.split('\n').filter(line => /: the action's own session$/.test(line))
    expect(own.every(line => line.length < 60)).toBe(true)
  })

  it('refuses a pattern that matches more than a handful of processes, signalling none', () => {
    const run = inNamespace(
      'for n in 1 2 3 4 5 6 7 8 9 10 11 12; do setsid sleep 305 & done',
      stop('sleep 305'),
      'pgrep -c -x sleep'
    )
    expect(run.code).toBe(5)
    expect(run.stdout).toContain(
      "@@0123456789ab error process-match 'sleep 305' matches 12 processes of user(s) root; nothing was signalled:"
    )
    expect(run.stdout).toMatch(/^@@0123456789ab error {3}\d+ root: sleep 305$/m)
    expect(run.stdout).not.toContain('SIGTERM')
    expect(run.after.trim()).toBe('12')
  })

  it('refuses a pattern that matches processes of several users, signalling none', () => {
    const run = inNamespace(
      'setsid sleep 306 & setpriv --reuid=65534 --regid=65534 --clear-groups setsid sleep 306 &',
      stop('sleep 306'),
      'pgrep -c -x sleep'
    )
    expect(run.code).toBe(5)
    expect(run.stdout).toMatch(
      /matches 2 processes of user\(s\) (root nobody|nobody root); nothing was signalled/
    )
    expect(run.after.trim()).toBe('2')
  })

  it('a one-letter pattern that hits everything is refused, not sent to PID 1 or the session', () => {
    const run = inNamespace(
      'for n in 1 2 3 4 5 6 7 8 9 10 11; do setsid sleep 30$n & done',
      stop('e'),
      'pgrep -c -x sleep'
    )
    expect(run.code).toBe(5)
    expect(run.stdout).not.toContain('SIGTERM')
    expect(run.after.trim()).toBe('11')
  })
})

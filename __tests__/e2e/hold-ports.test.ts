/**
 * hold-ports against real gunicorn and uvicorn from Debian: a client opening fresh connections
 * through the deploys sees none refused, the holder survives deploys and a rollback, is started
 * again after it died, replaced when ports change, stopped when hold-ports is turned off, and a
 * host without a Python that can pass sockets is refused before anything stops.
 */
import { describe, expect, it } from '@jest/globals'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { deploy, deployInputs, failureMessage, killedAfterAll, useSshd } from '../support/deploy.js'
import { startLoad, type LoadResult } from '../support/load.js'
import {
  appSource,
  DEBIAN_PYTHON,
  HOLDER,
  isRunning,
  processesOfTarget,
  SERVICE_DIR,
  sha,
  versionAnswer
} from '../support/service.js'
import { freePort, type TestSshd } from '../support/sshd.js'

let sshd: TestSshd
useSshd(started => (sshd = started))
const targets = killedAfterAll()
const PYTHON = DEBIAN_PYTHON

async function setup(name: string, app: string, command: string) {
  const target = join(sshd.dir, name)
  targets.push(target)
  const source = appSource(app)
  const base = await deployInputs(sshd, source, target)
  const inputs = {
    ...base,
    'start-command': command,
    'hold-ports': 'true',
    python: PYTHON,
    'version-timeout': '60'
  }
  return { target, port: Number(base.ports), inputs }
}

/** Lets the client go on for a moment after the last deploy, so its answers can be checked. */
const settle = () => new Promise(resolve => setTimeout(resolve, 500))

const holderPid = (target: string) =>
  Number(readFileSync(join(target, '.deploy/holder/pid'), 'utf8').trim())

/**
 * No request refused or failed; every answer to a request sent after a deploy ended (and before
 * the next one began, `until`) is that deploy's commit. `resets` is what the server's own shutdown
 * may close: uvicorn closes a connection its worker accepted but had not read yet when it stops.
 */
function expectServedThrough(
  load: LoadResult,
  done: { at: number; until?: number; commit: string }[],
  resets = 0
) {
  expect({ refused: load.refused, failed: load.failed, errors: load.errors }).toEqual({
    refused: 0,
    failed: 0,
    errors: []
  })
  expect(load.reset).toBeLessThanOrEqual(resets)
  expect(load.answered + load.reset).toBe(load.sent)
  done.forEach(({ at, until = Infinity, commit }) => {
    const between = load.answers.filter(answer => answer.sentAt > at && answer.sentAt < until)
    expect(between.length).toBeGreaterThan(0)
    expect(between.filter(answer => answer.commit !== commit)).toEqual([])
  })
}

describe('hold-ports', () => {
  it('gunicorn --bind fd://3: no connection refused through two deploys; a dead holder is started again; off frees the ports', async () => {
    const { target, port, inputs } = await setup(
      'hold-gunicorn',
      'wsgiapp.py',
      `${PYTHON} -m gunicorn -w 2 --bind fd://3 wsgiapp:app`
    )
    const first = await deploy({ ...inputs, sha: sha('1') })
    expect(first.stdout).toMatch(
      /The port holder \(pid \d+\) now holds 127\.0\.0\.1:\d+ \(hold-ports\)/
    )
    const holder = holderPid(target)
    expect(processesOfTarget(target, HOLDER)).toEqual([holder])

    const load = startLoad(port)
    const done: { at: number; until?: number; commit: string }[] = []
    for (const digit of ['2', '3']) {
      const run = await deploy({ ...inputs, sha: sha(digit) })
      done.push({ at: Date.now(), commit: sha(digit) })
      await settle()
      done[done.length - 1].until = Date.now()
      // The holder is never the service: nothing signals it.
      expect(run.stdout).not.toMatch(new RegExp(`SIGTERM to ${holder} `))
      expect(run.summary).toContain('Held across the restart (hold-ports): 127.0.0.1:')
    }
    const served = await load.stop()
    expectServedThrough(served, done)
    expect(served.sent).toBeGreaterThan(100)
    // The same holder held the sockets through both deploys.
    expect(holderPid(target)).toBe(holder)

    // A holder that died (the test killed the one it started) is started again.
    process.kill(holder, 'SIGKILL')
    const again = await deploy({ ...inputs, sha: sha('4') })
    expect(again.stdout).toContain(`The port holder (pid ${holder}) is gone; starting it again`)
    expect(holderPid(target)).not.toBe(holder)
    expect((await versionAnswer(port)).commit).toBe(sha('4'))

    // Turned off: the holder is stopped and its files go; the service binds the port itself.
    const last = holderPid(target)
    const off = await deploy({
      ...inputs,
      'hold-ports': 'false',
      'start-command': `${PYTHON} -m gunicorn -w 2 --bind 127.0.0.1:${port} wsgiapp:app`,
      sha: sha('5')
    })
    expect(off.stdout).toContain(
      `Stopped the port holder (pid ${last}), which held 127.0.0.1:${port}`
    )
    expect(isRunning(last)).toBe(false)
    expect(existsSync(join(target, '.deploy/holder'))).toBe(false)
    expect((await versionAnswer(port)).commit).toBe(sha('5'))
    expect(off.summary).not.toContain('hold-ports')
  })

  it('uvicorn --fd 3 --workers 2: the holder survives a rollback, and is replaced when ports change', async () => {
    const command = `${PYTHON} -m uvicorn --fd 3 --workers 2 asgiapp:app`
    const { target, port, inputs } = await setup('hold-uvicorn', 'asgiapp.py', command)
    await deploy({ ...inputs, sha: sha('1') })
    const holder = holderPid(target)
    const load = startLoad(port)
    await deploy({ ...inputs, sha: sha('2') })
    const done: { at: number; until?: number; commit: string }[] = [
      { at: Date.now(), commit: sha('2') }
    ]
    await settle()
    expectServedThrough(await load.stop(), done, 3)

    // A release whose app does not load is rolled back; the sockets stay with the same holder.
    const brokenSource = mkdtempSync(join(tmpdir(), 'vsd-app-'))
    writeFileSync(
      join(brokenSource, 'asgiapp.py'),
      readFileSync(join(SERVICE_DIR, 'apps', 'asgiapp.py'), 'utf8') +
        '\nraise RuntimeError("broken")\n'
    )
    const broken = await deploy(
      { ...inputs, source: brokenSource, 'version-timeout': '10', sha: sha('3') },
      1
    )
    expect(failureMessage(broken)).toContain('Rolled back to')
    expect(holderPid(target)).toBe(holder)
    expect((await versionAnswer(port)).commit).toBe(sha('2'))

    // Other ports: the holder is replaced by one holding those.
    const moved = await freePort()
    const other = await deploy({
      ...inputs,
      ports: String(moved),
      'version-url': `http://127.0.0.1:${moved}/version`,
      sha: sha('4')
    })
    expect(other.stdout).toContain(
      `Stopped the port holder (pid ${holder}), which held 127.0.0.1:${port}`
    )
    expect(other.stdout).toContain(`now holds 127.0.0.1:${moved}`)
    expect((await versionAnswer(moved)).commit).toBe(sha('4'))
  })

  it('refuses a host whose python cannot pass sockets, before anything stops', async () => {
    const { port, inputs } = await setup(
      'hold-no-python',
      'wsgiapp.py',
      `${PYTHON} -m gunicorn -w 1 --bind fd://3 wsgiapp:app`
    )
    await deploy({ ...inputs, sha: sha('1') })
    const refused = await deploy({ ...inputs, python: '/nonexistent/python3', sha: sha('2') }, 1)
    expect(failureMessage(refused)).toContain(
      "prepare: hold-ports needs Python on the host, and '/nonexistent/python3' (the python input) is not there"
    )
    expect((await versionAnswer(port)).commit).toBe(sha('1'))
  })
})

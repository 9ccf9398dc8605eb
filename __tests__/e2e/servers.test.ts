/**
 * Real servers from Debian (gunicorn, uvicorn with FastAPI, Flask), deployed twice each: the second
 * deploy must stop every process of the first and serve the new commit from new processes.
 */
import { describe, expect, it } from '@jest/globals'
import { join } from 'node:path'
import { deploy, deployInputs, killedAfterAll, useSshd } from '../support/deploy.js'
import {
  appSource,
  DEBIAN_PYTHON,
  isRunning,
  processesOfTarget,
  sha,
  versionAnswer
} from '../support/service.js'
import { type TestSshd } from '../support/sshd.js'

let sshd: TestSshd
useSshd(started => (sshd = started))
const targets = killedAfterAll()
const PYTHON = DEBIAN_PYTHON

async function deployTwice(name: string, app: string, command: (port: number) => string) {
  const target = join(sshd.dir, name)
  targets.push(target)
  const source = appSource(app)
  const base = await deployInputs(sshd, source, target)
  const port = Number(base.ports)
  const inputs = { ...base, 'start-command': command(port), 'version-timeout': '60' }

  const first = await deploy({ ...inputs, sha: sha('a') })
  const before = await versionAnswer(port)
  expect(before.commit).toBe(sha('a'))
  const oldProcesses = processesOfTarget(target)
  expect(oldProcesses).toContain(before.pid)

  const second = await deploy({ ...inputs, sha: sha('b') })
  const after = await versionAnswer(port)
  expect(after.commit).toBe(sha('b'))
  expect(second.outputs['reported-version']).toBe(sha('b'))
  const newProcesses = processesOfTarget(target)
  expect(newProcesses).toContain(after.pid)
  // Every process of the first deploy is gone: none survives to answer with the old code.
  expect(oldProcesses.filter(isRunning)).toEqual([])
  expect(newProcesses.filter(pid => oldProcesses.includes(pid))).toEqual([])
  return { first, second, before, after }
}

describe('real Python servers, deployed twice', () => {
  it('gunicorn --daemon with the default detach: the daemon is found by its marker and replaced', async () => {
    const { first, second, before, after } = await deployTwice(
      'gunicorn-daemon',
      'wsgiapp.py',
      port => `${PYTHON} -m gunicorn --daemon -w 2 -b 127.0.0.1:${port} wsgiapp:app`
    )
    expect(first.stdout).toContain('exited 0 within 1 s: it daemonized')
    // The daemon left the launched group; the record after verify found it by its marker.
    expect(first.stdout).toMatch(
      new RegExp(`Recorded the service's processes in .*: .*\\b${before.ppid}\\b`)
    )
    expect(second.stdout).toMatch(
      new RegExp(
        `SIGTERM to ${before.ppid} \\(.*gunicorn --daemon.*\\): recorded by the last deploy`
      )
    )
    expect(after.ppid).not.toBe(before.ppid)
  })

  it('gunicorn -w 2 in the foreground: master and workers are replaced', async () => {
    const { second, before, after } = await deployTwice(
      'gunicorn-foreground',
      'wsgiapp.py',
      port => `${PYTHON} -m gunicorn -w 2 -b 127.0.0.1:${port} wsgiapp:app`
    )
    expect(second.stdout).toMatch(/SIGTERM to \d+ \(.*gunicorn.*\): recorded by the last deploy/)
    expect(after.ppid).not.toBe(before.ppid)
  })

  it('uvicorn --workers 2 with FastAPI: the spawned workers are replaced with the parent', async () => {
    const { second } = await deployTwice(
      'uvicorn-workers',
      'asgiapp.py',
      port => `${PYTHON} -m uvicorn --workers 2 --host 127.0.0.1 --port ${port} asgiapp:app`
    )
    expect(second.stdout).toMatch(/SIGTERM to \d+ \(.*multiprocessing.*\): /)
  })
})

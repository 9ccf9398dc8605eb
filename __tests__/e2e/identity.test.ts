/**
 * Service identity (README, "How the action finds your service"): the action stops exactly the service — found by its DEPLOY_TARGET
 * marker, the processes recorded by the last deploy and a guarded process-match — and proves that
 * a new process took its place.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runAction } from '../support/action.js'
import { deploy, deployInputs, failureMessage, useSshd } from '../support/deploy.js'
import {
  DEBIAN_PYTHON,
  isRunning,
  killTargetProcesses,
  serviceSource,
  sha,
  versionAnswer,
  waitForCommit
} from '../support/service.js'
import { freePort, startSshd, type TestSshd } from '../support/sshd.js'

let sshd: TestSshd
useSshd(started => (sshd = started), { stopServicesAfterEach: true })

async function service(name: string, flags = '', overrides: Record<string, string> = {}) {
  const target = join(sshd.dir, name)
  const inputs = await deployInputs(sshd, serviceSource(), target, overrides, flags)
  return { target, port: Number(inputs.ports), inputs }
}

describe('service identity', () => {
  it('a start that forks and calls setsid is a start, and the next deploy replaces the daemon', async () => {
    const { port, inputs } = await service('setsid-daemon', '--daemon')
    const first = await deploy({ ...inputs, sha: sha('1') })
    // Forked within the start's first second (on a loaded machine, Python may take longer: then
    // the start saw it running, which is a start too).
    expect(first.stdout).toMatch(
      /exited 0 within 1 s: it daemonized|Started '[^']*--daemon' as process group \d+/
    )
    const before = await versionAnswer(port)
    const second = await deploy({ ...inputs, sha: sha('2') })
    expect(second.stdout).toMatch(new RegExp(`SIGTERM to ${before.pid} \\(`))
    const after = await versionAnswer(port)
    expect(after.commit).toBe(sha('2'))
    expect(after.pid).not.toBe(before.pid)
    expect(isRunning(before.pid)).toBe(false)
  })

  it('a redeploy of the same commit restarts the service: a new process answers', async () => {
    const { port, inputs } = await service('same-commit')
    await deploy({ ...inputs, sha: sha('3') })
    const before = await versionAnswer(port)
    await deploy({ ...inputs, sha: sha('3') })
    const after = await versionAnswer(port)
    expect(after.commit).toBe(sha('3'))
    expect(after.pid).not.toBe(before.pid)
    expect(isRunning(before.pid)).toBe(false)
  })

  it("deploying one target leaves another target's service alone, even when process-match hits it", async () => {
    const name = `twins-${randomBytes(4).toString('hex')}`
    const pattern = { 'process-match': `vsdsvc start --port [0-9]+ --name ${name}` }
    const staging = await service('staging', `--name ${name}`, pattern)
    const production = await service('production', `--name ${name}`, pattern)
    await deploy({ ...production.inputs, sha: sha('4') })
    await deploy({ ...staging.inputs, sha: sha('4') })
    const untouched = await versionAnswer(production.port)
    const result = await deploy({ ...staging.inputs, sha: sha('5') })
    expect(result.stdout).toMatch(
      new RegExp(
        `not signalling \\d+ \\(\\S*python3 -m vsdsvc start --port ${production.port} --name ${name}\\): it carries another target's marker \\(DEPLOY_TARGET=${production.target}\\)`
      )
    )
    await waitForCommit(staging.port, sha('5'))
    const after = await versionAnswer(production.port)
    expect(after).toEqual(untouched)
  })

  it('a survivor answering with the same commit on a service port fails verify, named', async () => {
    const { target, port, inputs } = await service('survivor', '--listen-delay 3', {
      'rollback-on-failure': 'false'
    })
    await deploy({ ...inputs, sha: sha('6') })
    await waitForCommit(port, sha('6'), 20_000)
    // Started before the next deploy; it takes the port as soon as `current` moves, so the new
    // service (which binds 3 s after starting) finds it taken and the survivor answers alone.
    const survivorSource = `
import http.server, json, os, sys, time
target, port, commit = sys.argv[1], int(sys.argv[2]), sys.argv[3]
first = os.readlink(target + "/current")
while os.readlink(target + "/current") == first:
    time.sleep(0.02)
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"commit": commit}).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
`
    const survivor = spawn(DEBIAN_PYTHON, ['-c', survivorSource, target, String(port), sha('6')], {
      ...sshd.asDeployUser,
      stdio: 'ignore'
    })
    try {
      await new Promise(resolve => setTimeout(resolve, 300))
      const result = await deploy({ ...inputs, sha: sha('6') }, 1)
      const message = failureMessage(result)
      expect(message).toContain(
        `verify: ${inputs['version-url']} (requested from the host) reports ${sha('6')}, but a service port is held by a process that started before this deploy's stop`
      )
      expect(message).toMatch(
        new RegExp(
          `port ${port}: PID ${survivor.pid}, started \\d{4}-\\d\\d-\\d\\dT.*, \\S*python3 -c`
        )
      )
      expect(message).toContain(`--- port ${port} is held by: ${survivor.pid} `)
    } finally {
      survivor.kill('SIGKILL')
    }
  })

  it("a process-match that names the target matches none of the action's own shells, nor a concurrent deploy's", async () => {
    const { target, port, inputs } = await service('concurrent')
    const ownPaths = { ...inputs, 'process-match': target, 'lock-timeout': '60' }
    const holder = runAction({ ...ownPaths, sha: sha('7'), 'prepare-command': 'sleep 4' })
    await new Promise(resolve => setTimeout(resolve, 2000))
    const waiter = runAction({ ...ownPaths, sha: sha('8') })
    const [first, second] = await Promise.all([holder, waiter])
    expect([first.code, second.code, failureMessage(first), failureMessage(second)]).toEqual([
      0,
      0,
      '',
      ''
    ])
    expect(second.stdout).toMatch(
      /^waiting for the deploy lock \([01] of \d+ s\), held by: .*"sha":"7{40}"/m
    )
    // No shell of the action's carries the target in its command line: none is even a candidate.
    const log = `${first.stdout}${second.stdout}`
    expect(log).not.toMatch(
      /not signalling \d+ \(\S+\): (the action's own session|a command of this action)/
    )
    expect(log).not.toMatch(
      /SIGTERM to \d+ \(\/bin\/sh -c (IFS= read -r loader|vsd_script=\$VERIFIED_SSH_DEPLOY_STEP)/
    )
    await waitForCommit(port, sha('8'))
  })
})

describe('a deploy user whose login name contains the process-match pattern', () => {
  const user = `vsdsvc${randomBytes(3).toString('hex')}`
  let isolated: TestSshd
  beforeAll(async () => {
    execFileSync('useradd', ['-m', '-s', '/bin/sh', user])
    execFileSync('usermod', ['-p', '*', user])
    // In a PID namespace of its own: the pattern matches nothing of the machine's.
    isolated = await startSshd({
      pidNamespace: true,
      extraConfig: ['AuthorizedKeysFile .ssh/authorized_keys']
    })
    const home = execFileSync('sh', ['-c', `getent passwd ${user} | cut -d: -f6`], {
      encoding: 'utf8'
    }).trim()
    mkdirSync(join(home, '.ssh'), { recursive: true })
    writeFileSync(
      join(home, '.ssh/authorized_keys'),
      execFileSync('ssh-keygen', ['-y', '-f', isolated.keys.ed25519.path])
    )
    execFileSync('chown', ['-R', `${user}:${user}`, join(home, '.ssh')])
  })
  afterAll(async () => {
    await isolated?.stop()
    execFileSync('userdel', ['-r', '-f', user], { stdio: 'ignore' })
  })

  it('stops the service, never its own sshd session, and starts the new one', async () => {
    const port = await freePort()
    const inputs = {
      ...(await deployInputs(isolated, serviceSource(), '~/app')),
      username: user,
      'start-command': `/usr/bin/python3 -m vsdsvc start --port ${port}`,
      ports: String(port),
      'version-url': `http://127.0.0.1:${port}/version`,
      'process-match': 'vsdsvc'
    }
    try {
      await deploy({ ...inputs, sha: sha('a') })
      const before = await versionAnswer(port)
      const second = await deploy({ ...inputs, sha: sha('b') })
      expect(second.stdout).toMatch(
        new RegExp(`not signalling \\d+ \\(sshd: ${user}.*\\): an sshd process`)
      )
      expect(second.stdout).toMatch(new RegExp(`SIGTERM to ${before.pid} \\(`))
      const after = await versionAnswer(port)
      expect(after.commit).toBe(sha('b'))
      expect(after.pid).not.toBe(before.pid)
    } finally {
      killTargetProcesses(`/home/${user}/app`)
    }
  })
})

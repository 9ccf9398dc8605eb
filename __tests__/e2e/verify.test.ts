import { describe, expect, it } from '@jest/globals'
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { currentRelease, deploy, deployInputs, failureMessage, useSshd } from '../support/deploy.js'
import {
  killServiceOnPort,
  reportedCommit,
  serviceSource,
  sha,
  startByHand,
  waitForCommit
} from '../support/service.js'
import { freePort, startSshd, type TestSshd } from '../support/sshd.js'
import { write } from '../support/tree.js'

let sshd: TestSshd
useSshd(started => (sshd = started))

async function service(name: string, overrides: Record<string, string> = {}) {
  const source = serviceSource()
  const target = join(sshd.dir, name)
  const inputs = await deployInputs(sshd, source, target, overrides)
  return { source, target, inputs, port: Number(new URL(inputs['version-url']).port) }
}

describe('verify: the running service must report the deployed commit', () => {
  it('passes a correct deploy and reports every output and a summary row', async () => {
    const { target, inputs, port } = await service('correct', { 'stable-for': '1' })
    const first = await deploy({ ...inputs, sha: sha('1') })
    const result = await deploy({ ...inputs, sha: sha('2') })
    expect(await reportedCommit(port)).toBe(sha('2'))
    expect(result.stdout).toContain(
      `http://127.0.0.1:${port}/version reports ${sha('2')} (version 1.0.0)`
    )
    expect(result.stdout).toContain('Still ' + sha('2') + ' after 1 s (stable-for)')
    // No shell complaint about a file the action looks for and may not find (a holder's PID file).
    for (const run of [first, result]) expect(run.stdout).not.toMatch(/cannot open|No such file/)
    const outputs = result.outputs
    expect(outputs).toMatchObject({
      sha: sha('2'),
      release: currentRelease(target).replace('releases/', ''),
      'previous-sha': sha('1'),
      'previous-release': first.outputs.release,
      'rolled-back': 'false',
      'reported-version': '1.0.0',
      'uploaded-files': '0'
    })
    expect(Number(outputs['duration-seconds'])).toBeGreaterThan(0)
    const [host] = JSON.parse(outputs.hosts)
    expect(host).toMatchObject({
      host: `127.0.0.1:${sshd.port}`,
      result: 'success',
      sha: sha('2'),
      rolledBack: false
    })
    expect(host.phases.map((timing: { phase: string }) => timing.phase)).toEqual([
      'connect',
      'lock',
      'upload',
      'prepare',
      'stop',
      'wait-for-exit',
      'switch',
      'start',
      'verify',
      'prune'
    ])
    expect(result.summary).toContain(
      `<td>127.0.0.1:${sshd.port}</td><td>success</td><td>${outputs.release}</td>`
    )
    expect(result.summary).toMatch(/verify \d+\.\d s/)
  })

  it('says every few seconds what a slow service last answered and how long is left', async () => {
    const source = serviceSource()
    const target = join(sshd.dir, 'slow-start')
    const inputs = await deployInputs(sshd, source, target, {}, '--listen-delay 7')
    const result = await deploy({ ...inputs, sha: sha('7') })
    expect(result.stdout).toMatch(
      /^still waiting for 777777777777: last answer no HTTP answer \(ECONNREFUSED[^)]*\); 2\d s left \(version-timeout\)$/m
    )
    expect(await reportedCommit(Number(inputs.ports))).toBe(sha('7'))
  })

  it("fails as soon as the new service keeps reporting a stale stamp, with expected, reported, this start's lines and the port's holder", async () => {
    const { source, inputs, port } = await service('stale', {
      'rollback-on-failure': 'false',
      'version-timeout': '60'
    })
    writeFileSync(join(sshd.dir, 'fixed-old-stamp'), `${sha('0')}\n`)
    write(source, 'STAMP_FROM', join(sshd.dir, 'fixed-old-stamp'))
    const started = Date.now()
    const result = await deploy({ ...inputs, sha: sha('1') }, 1)
    // The new service (its port held by a process started after the stop) will not change its
    // answer: verify does not wait out its 60 s.
    expect(Date.now() - started).toBeLessThan(20_000)
    const message = failureMessage(result)
    expect(message).toContain(
      `verify: http://127.0.0.1:${port}/version (requested from the host) the new service (started after this deploy's stop) answers with ${sha('0')} instead of ${sha('1').slice(0, 12)}, and has for 2 s`
    )
    expect(message).toContain(`Expected commit: ${sha('1')}`)
    expect(message).toContain(
      `Last response: HTTP 200 {"commit": "${sha('0')}", "version": "1.0.0"`
    )
    expect(message).toContain(`--- this start in ${inputs.target}/.deploy/service.log`)
    expect(message).toContain(`serving ${sha('1')} on ${port}`)
    // The holders of the service's ports only: not every listener on the host (sshd's among them).
    expect(message).toMatch(new RegExp(`--- port ${port} is held by: \\d+ .*multiprocessing-fork`))
    expect(message.match(/^--- port /gm)).toHaveLength(1)
    expect(result.stdout).toMatch(/::error title=Deploy to 127\.0\.0\.1%3A\d+ failed in verify::/)
    expect(JSON.parse(result.outputs.hosts)[0]).toMatchObject({
      result: 'failed',
      rolledBack: false
    })
  })

  it('fails when the start silently does nothing while an old process keeps serving the port', async () => {
    const { inputs, port } = await service('old-keeps-serving', {
      'rollback-on-failure': 'false',
      'version-timeout': '2',
      'start-command': 'sleep 30',
      ports: ''
    })
    startByHand(sshd, port, sha('0'))
    try {
      await waitForCommit(port, sha('0'))
      const message = failureMessage(await deploy({ ...inputs, sha: sha('1') }, 1))
      expect(message).toContain(`kept reporting ${sha('0')} instead of ${sha('1').slice(0, 12)}`)
      expect(message).toContain('the old code is still answering')
    } finally {
      killServiceOnPort(port)
    }
  })

  it('catches a start that crashes after 2 s with stable-for, and rolls back to the previous release', async () => {
    const { source, target, inputs, port } = await service('crashes', { 'stable-for': '4' })
    const good = await deploy({ ...inputs, sha: sha('1') })
    write(source, 'CRASH_AFTER', '2')
    const result = await deploy({ ...inputs, sha: sha('2') }, 1)
    const message = failureMessage(result)
    expect(message).toContain(
      `reported ${sha('2')} at first, but 4 s later (stable-for) gave no commit: the new service did not stay up`
    )
    expect(message).toContain(
      `Rolled back to ${good.outputs.release}, the release live before this deploy: it is verified serving ${sha('1')}.`
    )
    expect(result.outputs['rolled-back']).toBe('true')
    expect(result.stdout).toContain('failed in verify; rolled back::')
    expect(currentRelease(target)).toBe(`releases/${good.outputs.release}`)
    // The failed release is gone once it is not live; releases.log keeps why it failed.
    expect(existsSync(join(target, 'releases', result.outputs.release))).toBe(false)
    expect(result.stdout).toContain(`Removed the failed release ${result.outputs.release}`)
    expect(await reportedCommit(port)).toBe(sha('1'))
    const log = readFileSync(join(target, '.deploy/releases.log'), 'utf8')
      .trim()
      .split('\n')
      .map(line => JSON.parse(line))
    expect(log.at(-1)).toMatchObject({
      event: 'rollback',
      from: result.outputs.release,
      release: good.outputs.release,
      sha: sha('1'),
      reason: expect.stringContaining('stable-for')
    })

    // The next deploy copies from the good release, never the bad one.
    rmSync(join(source, 'CRASH_AFTER'))
    const fixed = await deploy({ ...inputs, sha: sha('3') })
    expect(fixed.stdout).toContain(`from ${good.outputs.release} on the host`)
  })

  it('stops waiting once every process of the new start has exited, and rolls back at once', async () => {
    const { source, inputs, port } = await service('dies-at-2s', { 'version-timeout': '60' })
    // A release that carries DIES runs 2 s (past the start's first second), then exits silent.
    const start = `if [ -e DIES ]; then sleep 2; exit 1; fi; exec ${inputs['start-command']}`
    const good = await deploy({ ...inputs, 'start-command': start, sha: sha('1') })
    write(source, 'DIES', 'yes\n')
    const started = Date.now()
    const result = await deploy({ ...inputs, 'start-command': start, sha: sha('2') }, 1)
    expect(Date.now() - started).toBeLessThan(30_000)
    expect(failureMessage(result)).toContain(
      'every process of the new start has exited (none carrying DEPLOY_TARGET='
    )
    expect(failureMessage(result)).toContain(`Rolled back to ${good.outputs.release}`)
    expect(await reportedCommit(port)).toBe(sha('1'))
  })

  it('with no earlier release, says so and leaves the failed one stopped', async () => {
    const { source, inputs, port } = await service('first-fails', { 'stable-for': '3' })
    write(source, 'CRASH_AFTER', '1')
    const message = failureMessage(await deploy({ ...inputs, sha: sha('1') }, 1))
    expect(message).toContain(
      'There is nothing to roll back to (no release was live before this deploy); the failed release was stopped.'
    )
    expect(await reportedCommit(port)).toBeUndefined()
  })
})

describe('verify: answers that are not a commit', () => {
  const cases: [string, Record<string, string>, string][] = [
    [
      'a missing version-field',
      { 'version-field': 'build.sha' },
      "the JSON body has no text at 'build.sha' (version-field); its top-level keys are commit, version, pid"
    ],
    [
      'a non-JSON body with version-field',
      { path: '/text', 'version-field': 'commit' },
      "the body is not JSON, but version-field 'commit' is set"
    ],
    ['HTTP 500', { path: '/fail' }, 'Last reported: (nothing) - HTTP 500'],
    [
      // The answer must come from where the URL points: a redirect is never followed.
      'a redirect',
      { path: '/redirect' },
      'Last reported: (nothing) - HTTP 302, a redirect to /version: redirects are not followed'
    ],
    [
      'connection refused',
      { closed: 'yes' },
      'Last reported: (nothing) - no HTTP answer (ECONNREFUSED on the host: nothing listens on 127.0.0.1:'
    ]
  ]
  it.each(cases)('%s fails with its own message', async (_name, options, expected) => {
    const { inputs, port } = await service(
      `bad-${options.path ?? options['version-field'] ?? 'closed'}-${Math.random()}`,
      {
        'rollback-on-failure': 'false',
        'version-timeout': '2'
      }
    )
    const { path = '/version', closed, ...overrides } = options
    const url = closed
      ? `http://127.0.0.1:${await freePort()}/version`
      : `http://127.0.0.1:${port}${path}`
    const message = failureMessage(await deploy({ ...inputs, ...overrides, 'version-url': url }, 1))
    expect(message).toContain('gave no commit within 2 s (version-timeout)')
    expect(message).toContain(expected)
  })

  it('accepts a plain-text body, and a check from the runner', async () => {
    const { inputs, port } = await service('text')
    await deploy({ ...inputs, 'version-url': `http://127.0.0.1:${port}/text`, sha: sha('1') })
    const fromRunner = await deploy({ ...inputs, 'version-check-from': 'runner', sha: sha('3') })
    expect(fromRunner.stdout).toContain(`reports ${sha('3')}`)
  })
})

describe('semver guards', () => {
  it('refuses a version outside version-range', async () => {
    const { source, inputs } = await service('range', { 'rollback-on-failure': 'false' })
    write(source, 'VERSION', '1.4.0\n')
    const message = failureMessage(await deploy({ ...inputs, 'version-range': '>=2.0.0' }, 1))
    expect(message).toContain(
      "the service reports version 1.4.0, which is outside version-range '>=2.0.0'"
    )
  })

  it('with allow-downgrade: false, refuses a lower version and restores the running one', async () => {
    const { source, target, inputs, port } = await service('downgrade', {
      'allow-downgrade': 'false'
    })
    write(source, 'VERSION', '2.1.0\n')
    const current = await deploy({ ...inputs, sha: sha('1') })
    write(source, 'VERSION', '2.0.9\n')
    const result = await deploy({ ...inputs, sha: sha('2') }, 1)
    const message = failureMessage(result)
    expect(message).toContain(
      'refusing a downgrade (allow-downgrade: false): the running version was 2.1.0, the new one reports 2.0.9'
    )
    expect(message).toContain(`Rolled back to ${current.outputs.release}`)
    expect(JSON.parse(result.outputs.hosts)[0]).toMatchObject({
      previousVersion: '2.1.0',
      rolledBack: true,
      reportedVersion: '2.1.0'
    })
    expect(currentRelease(target)).toBe(`releases/${current.outputs.release}`)
    expect(await reportedCommit(port)).toBe(sha('1'))
    expect(existsSync(join(target, 'releases', result.outputs.release))).toBe(false)
  })
})

describe('version-check-from: host goes through the SSH connection', () => {
  it('fails when the host forbids TCP forwarding, while runner mode still works', async () => {
    const locked = await startSshd({ extraConfig: ['AllowTcpForwarding no'] })
    try {
      const source = serviceSource()
      const inputs = await deployInputs(locked, source, join(locked.dir, 'app'), {
        'version-timeout': '2',
        'rollback-on-failure': 'false'
      })
      const viaHost = failureMessage(await deploy(inputs, 1))
      expect(viaHost).toContain(
        'no HTTP answer (the SSH server does not allow TCP forwarding (AllowTcpForwarding)'
      )
      await deploy({ ...inputs, 'version-check-from': 'runner' })
    } finally {
      await locked.stop()
    }
  })
})

/**
 * overlap against Debian's gunicorn: the new release starts on the held sockets beside the old
 * one, which is stopped only once the new one answered. A client opening fresh connections sees
 * no request fail through good and broken releases (a broken one is withdrawn, the old one never
 * stopped); a runner that dies mid-overlap leaves exactly one verified service serving; overlap
 * without hold-ports is refused before anything runs.
 */
import { describe, expect, it } from '@jest/globals'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { logShows, runAction } from '../support/action.js'
import {
  currentRelease,
  deploy,
  deployInputs,
  eventually,
  failureMessage,
  killedAfterAll,
  useSshd
} from '../support/deploy.js'
import { startLoad } from '../support/load.js'
import {
  appSource,
  DEBIAN_PYTHON,
  isRunning,
  processesOfTarget,
  reportedCommit,
  SERVICE_DIR,
  sha
} from '../support/service.js'
import { type TestSshd } from '../support/sshd.js'

let sshd: TestSshd
useSshd(started => (sshd = started))
const targets = killedAfterAll()

async function setup(name: string, overrides: Record<string, string> = {}) {
  const target = join(sshd.dir, name)
  targets.push(target)
  const source = appSource('wsgiapp.py')
  const base = await deployInputs(sshd, source, target)
  const inputs = {
    ...base,
    'start-command': `${DEBIAN_PYTHON} -m gunicorn -w 2 --bind fd://3 wsgiapp:app`,
    'hold-ports': 'true',
    overlap: 'true',
    python: DEBIAN_PYTHON,
    'version-timeout': '60',
    ...overrides
  }
  return { source, target, port: Number(base.ports), inputs }
}

/** The app as deployed, with `tail` appended: what makes a release broken. */
function withTail(source: string, tail: string): void {
  writeFileSync(
    join(source, 'wsgiapp.py'),
    readFileSync(join(SERVICE_DIR, 'apps', 'wsgiapp.py'), 'utf8') + tail
  )
}

/** The process groups of the service started for `target`: one per running instance. */
function instances(target: string): number[] {
  const groups = processesOfTarget(target).flatMap(pid => {
    try {
      return [
        Number(
          readFileSync(`/proc/${pid}/stat`, 'utf8')
            .replace(/^.*\) /s, '')
            .split(' ')[2]
        )
      ]
    } catch {
      return []
    }
  })
  return [...new Set(groups)]
}

describe('overlap', () => {
  it('gunicorn: no request fails through a good release, one whose import fails and one that never answers; the old one serves until the new one answered', async () => {
    const { source, target, port, inputs } = await setup('overlap-gunicorn')
    // The first deploy with hold-ports has no holder yet: it restarts as without overlap.
    const first = await deploy({ ...inputs, sha: sha('1') })
    expect(first.stdout).toContain('overlap: the port holder does not hold 127.0.0.1:')
    const load = startLoad(port)

    const good = await deploy({ ...inputs, sha: sha('2') })
    const goodDone = Date.now()
    expect(good.stdout).toContain(
      'The new release answers beside the old one, which is retired next (overlap)'
    )
    // Started before the old one was stopped: the stop comes after the start and the first verify.
    const phases = (JSON.parse(good.outputs.hosts) as { phases: { phase: string }[] }[])[0].phases
    expect(phases.map(phase => phase.phase).slice(-7)).toEqual([
      'switch',
      'start',
      'verify',
      'stop',
      'wait-for-exit',
      'verify',
      'prune'
    ])
    expect(good.stdout).toMatch(
      /not signalling \d+ \(.*gunicorn.*\): started after the overlap began/
    )
    expect(good.outputs['downtime-seconds']).toBe('0.00')
    expect(good.summary).toContain(
      '0.00 s (overlap: the new release answered before the old one stopped)'
    )
    const serving = instances(target)
    expect(serving).toHaveLength(1)

    // Broken at import: gunicorn's workers never boot and it exits. Withdrawn; the old one untouched.
    withTail(source, '\nraise RuntimeError("broken at import")\n')
    const brokenBegan = Date.now()
    const importError = await deploy({ ...inputs, sha: sha('3') }, 1)
    expect(failureMessage(importError)).toContain(
      'Withdrew it (overlap): its processes were stopped and'
    )
    expect(failureMessage(importError)).toContain(`still serves ${sha('2')}`)
    expect(instances(target)).toEqual(serving)
    expect(currentRelease(target)).toBe(`releases/${good.outputs.release}`)

    // Alive and silent: its whole version-timeout, then withdrawn, the old one still serving.
    withTail(source, '\nimport time\ntime.sleep(3600)\n')
    const silent = await deploy({ ...inputs, 'version-timeout': '8', sha: sha('4') }, 1)
    expect(failureMessage(silent)).toContain('Withdrew it (overlap)')
    expect(instances(target)).toEqual(serving)

    withTail(source, '\n')
    const againBegan = Date.now()
    const again = await deploy({ ...inputs, sha: sha('5') })
    const againDone = Date.now()
    await new Promise(resolve => setTimeout(resolve, 500))
    expect(again.outputs['downtime-seconds']).toBe('0.00')
    const served = await load.stop()
    expect({ refused: served.refused, failed: served.failed, reset: served.reset }).toEqual({
      refused: 0,
      failed: 0,
      reset: 0
    })
    // Only the old commit answered while the broken ones were tried, only the new one after each good one.
    const sentBetween = (from: number, to: number) =>
      served.answers.filter(answer => answer.sentAt > from && answer.sentAt < to)
    expect(new Set(sentBetween(goodDone, againBegan).map(answer => answer.commit))).toEqual(
      new Set([sha('2')])
    )
    expect(sentBetween(brokenBegan, againBegan).length).toBeGreaterThan(100)
    expect(new Set(sentBetween(againDone, Infinity).map(answer => answer.commit))).toEqual(
      new Set([sha('5')])
    )
    expect(served.sent).toBeGreaterThan(300)
    // The old instance went once the new one answered: one instance, of the last release.
    expect(instances(target)).toHaveLength(1)
    expect(instances(target)).not.toEqual(serving)
    expect(await reportedCommit(port)).toBe(sha('5'))
  }, 300_000)

  it('a runner killed mid-overlap: the host returns to exactly one verified service', async () => {
    const { source, target, port, inputs } = await setup('overlap-killed', {
      'version-timeout': '5',
      'stable-for': '1'
    })
    const verified = await deploy({ ...inputs, sha: sha('1') })
    await deploy({ ...inputs, sha: sha('2') })
    const serving = instances(target)
    // A release that never answers, beside the old one, and nobody left to withdraw it.
    withTail(source, '\nimport time\ntime.sleep(3600)\n')
    await runAction(
      { ...inputs, sha: sha('3') },
      {
        timeoutMs: 240_000,
        whileRunning: async child => {
          await logShows(child, /::group::\S+: start\n/)
          child.kill('SIGKILL')
          await eventually(
            `the host serves ${sha('2')} alone and holds no lock`,
            120_000,
            async () =>
              (await reportedCommit(port)) === sha('2') &&
              !existsSync(join(target, '.deploy/lock')) &&
              instances(target).length === 1
          )
        }
      }
    )
    expect(readdirSync(join(target, 'releases'))).toContain(verified.outputs.release)
    expect(currentRelease(target)).not.toContain('-3333333')
    expect(readFileSync(join(target, '.deploy/journal'), 'utf8')).toMatch(
      / undone \S+ 2{40}: started it/
    )
    // The undo stopped both instances and started the verified release once.
    const [now] = instances(target)
    expect(serving).not.toContain(now)
    expect(processesOfTarget(target).every(pid => isRunning(pid))).toBe(true)
  }, 300_000)

  it('without hold-ports: refused before anything on the host changes', async () => {
    const target = join(sshd.dir, 'overlap-refused')
    const inputs = await deployInputs(sshd, appSource('wsgiapp.py'), target)
    const refused = await deploy({ ...inputs, overlap: 'true', sha: sha('1') }, 1)
    expect(failureMessage(refused)).toContain("overlap is 'true': it needs hold-ports: true")
    expect(existsSync(target)).toBe(false)
  })
})

/**
 * The restart's critical path: wait-for-exit, switch and start run as one host step that finishes
 * even when the action is cut off, and downtime-seconds is the gap a client sees, measured on the
 * host: from the old service gone to the new one's first answer.
 */
import { describe, expect, it } from '@jest/globals'
import { appendFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { logShows, runAction } from '../support/action.js'
import { deploy, deployInputs, useSshd } from '../support/deploy.js'
import { startLoad } from '../support/load.js'
import { serviceSource, sha, waitForCommit } from '../support/service.js'
import { type TestSshd } from '../support/sshd.js'

let sshd: TestSshd
useSshd(started => (sshd = started), { stopServicesAfterEach: true })

describe('downtime', () => {
  it('downtime-seconds is what clients saw: none on a first deploy, the gap a client measured on the next; a drain is not downtime', async () => {
    const target = join(sshd.dir, 'drain')
    const inputs = await deployInputs(sshd, serviceSource(), target, {}, '--exit-delay 2')
    const port = Number(inputs.ports)
    const first = await deploy({ ...inputs, sha: sha('1') })
    // Nothing was stopped: nothing was down.
    expect(first.outputs['downtime-seconds']).toBe('')
    expect(first.summary).toMatch(/<td>-<\/td><td>no<\/td>/)
    await waitForCommit(port, sha('1'))
    const load = startLoad(port, 50)
    const second = await deploy({ ...inputs, sha: sha('2') })
    const seen = await load.stop()
    // The client's gap: from the old commit's last answer to the new one's first. The old service
    // answers through its 2 s drain (the action waits for it), so that is not part of it.
    const lastOld = Math.max(
      ...seen.answers.filter(answer => answer.commit === sha('1')).map(answer => answer.sentAt)
    )
    const firstNew = Math.min(
      ...seen.answers.filter(answer => answer.commit === sha('2')).map(answer => answer.sentAt)
    )
    const gap = (firstNew - lastOld) / 1000
    const downtime = Number(second.outputs['downtime-seconds'])
    expect(Math.abs(downtime - gap)).toBeLessThanOrEqual(Math.max(0.2 * gap, 0.1))
    const [host] = JSON.parse(second.outputs.hosts)
    expect(host.downtimeSeconds).toBe(downtime)
    // One host step, yet each phase keeps its log group (verify.test.ts checks their timings).
    for (const phase of ['wait-for-exit', 'switch', 'start'])
      expect(second.stdout).toMatch(new RegExp(`::group::127\\.0\\.0\\.1:\\d+: ${phase}\\n`))
    expect(second.stdout).toMatch(/old service gone after [2-4] s/)
    expect(second.summary).toMatch(/<td>\d+\.\d\d s<\/td>/)
  })

  it('a deploy that fails in start and rolls back reports its outage: from the stop until the rollback answered', async () => {
    const source = serviceSource()
    const target = join(sshd.dir, 'rolled-back')
    const inputs = await deployInputs(sshd, source, target)
    const port = Number(inputs.ports)
    await deploy({ ...inputs, sha: sha('5') })
    await waitForCommit(port, sha('5'))
    // The new release's service dies at import, so start fails and the rollback restores sha 5.
    appendFileSync(join(source, 'vsdsvc/__init__.py'), 'raise SystemExit("config missing")\n')
    const load = startLoad(port, 50)
    const failed = await deploy({ ...inputs, sha: sha('6') }, 1)
    const seen = await load.stop()
    expect(failed.outputs['rolled-back']).toBe('true')
    // Dead at import: start sees it exit, or (on a loaded machine, after its first second) verify does.
    expect(failed.summary).toMatch(/<td>failed in (start|verify)<\/td>/)
    // The longest a client went without an answer: between two answers, both the old commit's.
    const times = seen.answers.map(answer => answer.sentAt).sort((a, b) => a - b)
    const gap = Math.max(...times.slice(1).map((at, index) => at - times[index])) / 1000
    expect(seen.answers.every(answer => answer.commit === sha('5'))).toBe(true)
    expect(gap).toBeGreaterThan(0.3)
    const reported = Number(failed.outputs['downtime-seconds'])
    // It covers the gap: two polls of the client (20 ms each) and its requests' own latency are the
    // margin. It is an upper bound: verify begins after start's 1 s watch of the restored service.
    expect(reported).toBeGreaterThanOrEqual(gap - 0.15)
    expect(reported).toBeLessThan(gap + 2.5)
    expect(failed.summary).toContain(
      `<td>${reported.toFixed(2)} s (until the rollback answered)</td>`
    )
  })

  it('a job killed during wait-for-exit leaves the host to finish the restart; the post step verifies it and frees the lock', async () => {
    const target = join(sshd.dir, 'killed')
    const inputs = await deployInputs(sshd, serviceSource(), target, {}, '--exit-delay 3')
    const port = Number(inputs.ports)
    await deploy({ ...inputs, sha: sha('3') })
    await waitForCommit(port, sha('3'))
    const killed = await runAction(
      { ...inputs, sha: sha('4') },
      {
        whileRunning: async child => {
          await logShows(child, /: wait-for-exit\n/)
          child.kill('SIGKILL')
        }
      }
    )
    expect(killed.code).toBeNull()
    // Nobody is connected any more, yet the new release comes up.
    await waitForCommit(port, sha('4'), 20_000)
    expect(existsSync(join(target, '.deploy/lock'))).toBe(true)
    const post = await runAction(inputs, { entry: 'post', state: killed.state })
    expect(post.code).toBe(0)
    expect(post.stdout).toContain(
      `the post step verified ${JSON.parse(killed.state.unverified)[0].release}: it serves ${sha('4')}.`
    )
    expect(post.stdout).toMatch(/Started 'python3 -m vsdsvc .*' as process group \d+/)
    expect(post.stdout).toContain(`Released ${target}/.deploy/lock`)
    expect(existsSync(join(target, '.deploy/lock'))).toBe(false)
  })
})

/**
 * Cancellation as the runner does it: SIGINT to the action at a named phase, then the post step
 * (dist/post.js) with the state the main step saved. Nothing may be left unserved or unverified.
 */
import { describe, expect, it } from '@jest/globals'
import type { ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { logShows, runAction } from '../support/action.js'
import { currentRelease, deploy, deployInputs, useSshd } from '../support/deploy.js'
import {
  breakService,
  processesOfTarget,
  reportedCommit,
  serviceSource,
  sha,
  waitForCommit
} from '../support/service.js'
import { type TestSshd } from '../support/sshd.js'

let sshd: TestSshd
useSshd(started => (sshd = started), { stopServicesAfterEach: true })

/** Sends SIGINT once the log opens the group of `phase`, as the runner does on cancel. */
const interruptAt =
  (phase: string) =>
  async (child: ChildProcess): Promise<void> => {
    await logShows(child, new RegExp(`::group::\\S+: ${phase}\\n`))
    child.kill('SIGINT')
  }

describe('cancellation', () => {
  it('cancelled during wait-for-exit: the action says where and exits; the host finishes the restart; the post step verifies it and frees the lock', async () => {
    const target = join(sshd.dir, 'cancel-wait')
    const inputs = await deployInputs(
      sshd,
      serviceSource(),
      target,
      { 'keep-releases': '1' },
      '--exit-delay 3'
    )
    const port = Number(inputs.ports)
    const first = await deploy({ ...inputs, sha: sha('1') })
    const cancelled = await runAction(
      { ...inputs, sha: sha('2') },
      { whileRunning: interruptAt('wait-for-exit') }
    )
    expect(cancelled.code).toBe(1)
    expect(cancelled.stdout).toMatch(
      /^::error::Cancelled \(SIGINT\) during wait-for-exit on 127\.0\.0\.1:\d+\./m
    )
    expect(cancelled.outputs.release).toMatch(/-2222222$/)
    expect(cancelled.summary).toContain('<td>cancelled in wait-for-exit</td>')

    const post = await runAction(
      { ...inputs, sha: sha('2') },
      { entry: 'post', state: cancelled.state }
    )
    expect(post.code).toBe(0)
    expect(post.stdout).toMatch(
      new RegExp(
        `^::notice title=Cancelled deploy::The deploy to \\S+ was cut off before its check; the post step verified ${cancelled.outputs.release}: it serves ${sha('2')}\\.$`,
        'm'
      )
    )
    expect(await reportedCommit(port)).toBe(sha('2'))
    expect(existsSync(join(target, 'releases', cancelled.outputs.release, 'UNVERIFIED'))).toBe(
      false
    )
    expect(existsSync(join(target, '.deploy/lock'))).toBe(false)
    // keep-releases holds after a cancel too: the post step pruned as the run would have.
    expect(post.stdout).toContain(`Removed old release(s): ${first.outputs.release}`)
  })

  it('cancelled during verify of a release that never answers: the post step rolls back to the release live before', async () => {
    const source = serviceSource()
    const target = join(sshd.dir, 'cancel-verify')
    const inputs = await deployInputs(sshd, source, target, { 'version-timeout': '6' })
    const port = Number(inputs.ports)
    const good = await deploy({ ...inputs, sha: sha('1') })
    breakService(source)
    const cancelled = await runAction(
      { ...inputs, sha: sha('2') },
      { whileRunning: interruptAt('verify') }
    )
    expect(cancelled.code).toBe(1)
    expect(cancelled.stdout).toMatch(/^::error::Cancelled \(SIGINT\) during verify on /m)

    const post = await runAction(
      { ...inputs, sha: sha('2') },
      { entry: 'post', state: cancelled.state }
    )
    expect(post.code).toBe(0)
    expect(post.stdout).toMatch(
      /^::error title=Cancelled deploy::The deploy to \S+ was cut off, and \S+ failed its check\.%0Averify: .*gave no commit within 6 s/m
    )
    expect(post.stdout).toContain(
      `Rolled back to ${good.outputs.release}, the release live before this deploy: it is verified serving ${sha('1')}.`
    )
    expect(currentRelease(target)).toBe(`releases/${good.outputs.release}`)
    expect(await reportedCommit(port)).toBe(sha('1'))
    // Rolled back, it is not live: it goes, as a failed deploy's release does.
    expect(post.stdout).toContain(
      `Removed the cancelled run's release ${cancelled.outputs.release}`
    )
    expect(existsSync(join(target, 'releases', cancelled.outputs.release))).toBe(false)
    expect(existsSync(join(target, '.deploy/lock'))).toBe(false)
  })

  it('a release cancelled in prepare never ran: the post step removes it with the lock, and a later failure rolls back to the live one', async () => {
    const source = serviceSource()
    const target = join(sshd.dir, 'cancel-prepare')
    const inputs = await deployInputs(sshd, source, target, { 'version-timeout': '5' })
    const port = Number(inputs.ports)
    const good = await deploy({ ...inputs, sha: sha('1') })
    const cancelled = await runAction(
      { ...inputs, sha: sha('2'), 'prepare-command': 'sleep 30' },
      { whileRunning: interruptAt('prepare') }
    )
    expect(cancelled.code).toBe(1)
    expect(cancelled.stdout).toMatch(/^::error::Cancelled \(SIGINT\) during prepare on /m)
    const post = await runAction(inputs, { entry: 'post', state: cancelled.state })
    const neverRan = cancelled.outputs.release
    expect(post.stdout).toContain(
      `Released ${target}/.deploy/lock, and removed the run's release ${neverRan}, which is not live`
    )
    expect(await reportedCommit(port)).toBe(sha('1'))
    expect(existsSync(join(target, 'releases', neverRan))).toBe(false)

    breakService(source)
    const failed = await deploy({ ...inputs, sha: sha('3') }, 1)
    expect(failed.stdout).toContain(
      `Rolled back to ${good.outputs.release}, the release live before this deploy: it is verified serving ${sha('1')}.`
    )
    expect(currentRelease(target)).toBe(`releases/${good.outputs.release}`)
    expect(await reportedCommit(port)).toBe(sha('1'))
    await waitForCommit(port, sha('1'))
  })

  it('cut off after recording the switch but before the restart began: the post step restarts nothing', async () => {
    const target = join(sshd.dir, 'cancel-before-restart')
    const inputs = await deployInputs(sshd, serviceSource(), target)
    const port = Number(inputs.ports)
    const live = await deploy({ ...inputs, sha: sha('1') })
    const running = processesOfTarget(target)
    // The state a run leaves when it is killed between recording the switch and sending it.
    const state = {
      unverified: JSON.stringify([
        {
          host: '127.0.0.1',
          port: sshd.port,
          username: sshd.user,
          target,
          release: '20990101T000000Z-2222222',
          sha: sha('2'),
          fallback: { release: live.outputs.release, sha: sha('1') },
          token: 'cut-off-run',
          run: 'a cut-off run'
        }
      ])
    }
    const post = await runAction({ ...inputs, sha: sha('2') }, { entry: 'post', state })
    expect(post.code).toBe(0)
    expect(post.stdout).toContain(
      'was cut off before its restart began on the host: 20990101T000000Z-2222222 was never started, and the release that was live still serves'
    )
    expect(await reportedCommit(port)).toBe(sha('1'))
    expect(processesOfTarget(target)).toEqual(running)
    expect(currentRelease(target)).toBe(`releases/${live.outputs.release}`)
  })
})

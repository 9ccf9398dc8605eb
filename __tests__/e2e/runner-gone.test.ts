/**
 * Survive the runner: a deploy whose runner froze or died never blocks the next one, rollbacks go
 * only to verified releases, and the job's result is the deploy's. Each against a real sshd.
 */
import { describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { logShows, runAction, type ActionRun } from '../support/action.js'
import {
  currentRelease,
  deploy,
  deployInputs,
  eventually,
  failureMessage,
  useSshd
} from '../support/deploy.js'
import { WATCHDOG_GRACE_SECONDS } from '../../src/model/budgets.js'
import { breakService, reportedCommit, serviceSource, sha } from '../support/service.js'
import { type TestSshd } from '../support/sshd.js'
import { write } from '../support/tree.js'

let sshd: TestSshd
useSshd(started => (sshd = started), { stopServicesAfterEach: true })

async function service(name: string, overrides: Record<string, string> = {}) {
  const target = join(sshd.dir, name)
  const source = serviceSource()
  const inputs = await deployInputs(sshd, source, target, overrides)
  return { source, target, port: Number(inputs.ports), inputs }
}

const releases = (target: string) =>
  readdirSync(join(target, 'releases')).filter(name => !name.startsWith('.'))

describe('a runner that froze or died while it held the lock', () => {
  it('frozen: the next deploy breaks the lock once its heartbeat is 30 s old; the run that wakes up stops nothing', async () => {
    const { target, port, inputs } = await service('frozen')
    await deploy({ ...inputs, sha: sha('1') })
    let next: ActionRun | undefined
    const frozen = await runAction(
      { ...inputs, sha: sha('2'), 'prepare-command': 'sleep 1' },
      {
        timeoutMs: 150_000,
        whileRunning: async child => {
          await logShows(child, /::group::\S+: prepare\n/)
          // Stopped, not killed: its TCP connection stays open and silent.
          child.kill('SIGSTOP')
          try {
            next = await deploy({ ...inputs, sha: sha('3') })
          } finally {
            child.kill('SIGCONT')
          }
        }
      }
    )
    expect(next?.stdout).toMatch(
      /::warning title=Dead deploy lock broken::Broke the deploy lock of .* \(deploying 222222222222, since .*\): its runner sent no heartbeat for 30 s/
    )
    expect(await reportedCommit(port)).toBe(sha('3'))
    expect({ code: frozen.code, signal: frozen.signal, stderr: frozen.stderr }).toEqual({
      code: 1,
      signal: null,
      stderr: ''
    })
    expect(failureMessage(frozen)).toContain(
      "stop: the deploy lock is no longer this run's (held by: "
    )
    // It stopped nothing: the deploy that took over still serves, and no lock is left.
    expect(await reportedCommit(port)).toBe(sha('3'))
    expect(existsSync(join(target, '.deploy/lock'))).toBe(false)
  })

  it('killed (no post step): the next deploy breaks the lock and passes', async () => {
    const { target, port, inputs } = await service('killed')
    await deploy({ ...inputs, sha: sha('4') })
    const killed = await runAction(
      { ...inputs, sha: sha('5'), 'prepare-command': 'sleep 1' },
      {
        whileRunning: async child => {
          await logShows(child, /::group::\S+: prepare\n/)
          child.kill('SIGKILL')
        }
      }
    )
    expect(killed.code).toBe(null)
    expect(existsSync(join(target, '.deploy/lock'))).toBe(true)
    const next = await deploy({ ...inputs, sha: sha('6') })
    expect(next.stdout).toContain('::warning title=Dead deploy lock broken::')
    expect(await reportedCommit(port)).toBe(sha('6'))
  })
})

describe('commit confirmed: a runner gone at verify', () => {
  /**
   * Deploys 1, then 2 (good or broken), and at verify freezes its runner (SIGSTOP: the connection
   * stays open and silent) or kills it (no post step). Checked while it is gone: the host returns
   * to 1 by itself within version-timeout + stable-for + the grace, frees the lock, and a later
   * deploy passes without waiting. A frozen runner that wakes up reports what the host did.
   */
  async function goneAtVerify(name: string, signal: 'SIGSTOP' | 'SIGKILL', broken: boolean) {
    const { source, target, port, inputs } = await service(name, {
      'version-timeout': '5',
      'stable-for': '1'
    })
    const first = await deploy({ ...inputs, sha: sha('1') })
    if (broken) breakService(source)
    const lock = join(target, '.deploy/lock')
    let next: ActionRun | undefined
    let undoneAfter = 0
    const gone = await runAction(
      { ...inputs, sha: sha('2') },
      {
        timeoutMs: 240_000,
        whileRunning: async child => {
          await logShows(child, /::group::\S+: verify\n/)
          child.kill(signal)
          const at = Date.now()
          try {
            await eventually(
              `${name}: the host serves ${sha('1')} and holds no lock`,
              90_000,
              async () => (await reportedCommit(port)) === sha('1') && !existsSync(lock)
            )
            undoneAfter = (Date.now() - at) / 1000
            next = await deploy({ ...inputs, source: serviceSource(), sha: sha('3') })
          } finally {
            if (signal === 'SIGSTOP') child.kill('SIGCONT')
          }
        }
      }
    )
    // 5 + 1 + 30 s of budget, a heartbeat 30 s stale, then the restart itself.
    expect(undoneAfter).toBeLessThan(5 + 1 + WATCHDOG_GRACE_SECONDS + 15)
    const journal = readFileSync(join(target, '.deploy/journal'), 'utf8')
    expect(journal).toMatch(
      new RegExp(
        ` undo \\S+: not confirmed within 36 s of its start, and the runner sent no heartbeat for 30 s\\. Returning to ${first.outputs.release}\n`
      )
    )
    expect(journal).toContain(
      ` undone ${first.outputs.release} ${sha('1')}: started it, and new processes hold its ports\n`
    )
    expect(next?.stdout).not.toMatch(
      /^waiting for the deploy lock|::warning title=Dead deploy lock broken/m
    )
    expect(await reportedCommit(port)).toBe(sha('3'))
    // The undone release is gone, and the one deployed after it serves, unmarked.
    expect(releases(target)).toHaveLength(2)
    expect(existsSync(join(target, 'current/UNVERIFIED'))).toBe(false)
    return gone
  }

  it('frozen or killed, with a good or a broken commit: the host returns to the last verified release by itself', async () => {
    const [frozenGood, frozenBroken, killed] = await Promise.all([
      goneAtVerify('frozen-good', 'SIGSTOP', false),
      goneAtVerify('frozen-broken', 'SIGSTOP', true),
      goneAtVerify('killed-at-verify', 'SIGKILL', false)
    ])
    for (const woke of [frozenGood, frozenBroken]) {
      expect(woke.code).toBe(1)
      expect(failureMessage(woke)).toMatch(
        /The host undid \S+ by itself at \S+ \(not confirmed within 36 s of its start, and the runner sent no heartbeat for 30 s\); \S+ serves again: started it, and new processes hold its ports, and it freed the deploy lock\./
      )
    }
    expect(killed.code).toBe(null)
  }, 180_000)
})

describe('commit confirmed: a runner gone right after the switch', () => {
  /**
   * Deploys 1, then 2 broken as `how` says, and kills the runner (no post step) as the switch
   * begins: the host step goes on without it, and whatever becomes of the start, the watchdog
   * launched at the switch returns the host to 1 within its deadline.
   */
  async function killedAtSwitch(
    name: string,
    how: 'import-error' | 'dies-at-2s' | 'never-listens'
  ) {
    const { source, target, port, inputs } = await service(name, {
      'version-timeout': '5',
      'stable-for': '1'
    })
    const start = `if [ -e DIES ]; then sleep 2; exit 1; fi; exec ${inputs['start-command']}`
    const first = await deploy({ ...inputs, 'start-command': start, sha: sha('1') })
    if (how === 'import-error') write(source, 'vsdsvc/__init__.py', 'raise ImportError("broken")\n')
    if (how === 'dies-at-2s') write(source, 'DIES', 'yes\n')
    if (how === 'never-listens') breakService(source)
    const lock = join(target, '.deploy/lock')
    let undoneAfter = 0
    await runAction(
      { ...inputs, 'start-command': start, sha: sha('2') },
      {
        timeoutMs: 240_000,
        whileRunning: async child => {
          await logShows(child, /::group::\S+: switch\n/)
          child.kill('SIGKILL')
          const at = Date.now()
          await eventually(
            `${name}: the host serves ${sha('1')} and holds no lock`,
            90_000,
            async () => (await reportedCommit(port)) === sha('1') && !existsSync(lock)
          )
          undoneAfter = (Date.now() - at) / 1000
        }
      }
    )
    expect(undoneAfter).toBeLessThan(5 + 1 + WATCHDOG_GRACE_SECONDS + 20)
    expect(currentRelease(target)).toBe(`releases/${first.outputs.release}`)
    const journal = readFileSync(join(target, '.deploy/journal'), 'utf8')
    expect(journal).toMatch(
      / undo \S+-2222222: not confirmed within 36 s of its start, and the runner sent no heartbeat/
    )
    expect(journal).toContain(` undone ${first.outputs.release} ${sha('1')}: started it`)
  }

  it('for a start that fails, dies 2 s later, or never listens, the host returns to the last verified release', async () => {
    await Promise.all([
      killedAtSwitch('switch-import-error', 'import-error'),
      killedAtSwitch('switch-dies', 'dies-at-2s'),
      killedAtSwitch('switch-never-listens', 'never-listens')
    ])
  })
})

describe('rollback targets', () => {
  it('only a verified release: past a live one that a dead run never verified', async () => {
    const { source, target, port, inputs } = await service('unverified-live')
    const verified = await deploy({ ...inputs, sha: sha('7') })
    const unverified = await deploy({ ...inputs, sha: sha('8') })
    // As a run leaves it that died after its switch, before verify.
    writeFileSync(join(target, 'releases', unverified.outputs.release, 'UNVERIFIED'), '')
    // A release that crashes on its first answer (the rollback's start uses the same inputs).
    write(source, 'CRASH_AFTER', '0.001')
    const failed = await deploy({ ...inputs, sha: sha('9'), 'version-timeout': '5' }, 1)
    expect(failureMessage(failed)).toContain(
      `Rolled back to ${verified.outputs.release}, the last verified release (${unverified.outputs.release} was never verified): it is verified serving ${sha('7')}.`
    )
    expect(currentRelease(target)).toBe(`releases/${verified.outputs.release}`)
    expect(await reportedCommit(port)).toBe(sha('7'))
  })
})

describe('keep-releases holds on every path', () => {
  it('failed deploys (in start, rolled back, and in prepare) remove their own release', async () => {
    const { target, inputs } = await service('failing', { 'keep-releases': '2' })
    const good = await deploy({ ...inputs, sha: sha('a') })
    for (const commit of ['b', 'c', 'd']) {
      const failed = await deploy({ ...inputs, sha: sha(commit), 'start-command': 'exit 3' }, 1)
      expect(failed.stdout).toContain(`Removed the failed release ${failed.outputs.release}`)
    }
    await deploy({ ...inputs, sha: sha('e'), 'prepare-command': 'false' }, 1)
    expect(releases(target)).toEqual([good.outputs.release])
  })
})

describe("the job's result is the deploy's result", () => {
  it('verify passed: a prune that fails is a warning, and the job succeeds', async () => {
    const { target, port, inputs } = await service('prune-fails', { 'keep-releases': '1' })
    const old = await deploy({ ...inputs, sha: sha('f') })
    // A read-only mount over the old release: removing it fails.
    const dir = join(target, 'releases', old.outputs.release)
    execFileSync('mount', ['--bind', '-o', 'ro', dir, dir])
    try {
      const result = await deploy({ ...inputs, sha: sha('0') })
      expect(result.stdout).toMatch(
        /::warning::Pruning old releases on \S+ failed: .*The new release is verified and serving; the next deploy prunes again\./
      )
      expect(await reportedCommit(port)).toBe(sha('0'))
    } finally {
      execFileSync('umount', [dir])
    }
  })
})

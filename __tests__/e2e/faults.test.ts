import { describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { logShows, runAction } from '../support/action.js'
import { currentRelease, deploy, deployInputs, failureMessage, useSshd } from '../support/deploy.js'
import { breakService, reportedCommit, serviceSource, sha } from '../support/service.js'
import { type TestSshd } from '../support/sshd.js'
import { richSourceTree, treeDigest, write } from '../support/tree.js'

let sshd: TestSshd
useSshd(started => (sshd = started))

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

async function waitFor(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

/** Runs the action and cuts its SSH connections once `phase` begins (or the log shows `at`). */
function runCutDuring(phase: string, inputs: Record<string, string>, at?: RegExp) {
  return runAction(inputs, {
    whileRunning: async child => {
      await logShows(child, at ?? new RegExp(`::group::\\S+: ${phase}\\n`))
      sshd.dropConnections()
    }
  })
}

/** Runs `work` with a small disk of `size` mounted at `target`. */
async function onSmallDisk(target: string, size: string, work: () => Promise<void>): Promise<void> {
  const unmount = sshd.mountDisk(target, size)
  try {
    await work()
  } finally {
    unmount()
  }
}

const staging = (target: string) =>
  readdirSync(join(target, 'releases')).filter(name => name.startsWith('.staging-'))

describe('faults', () => {
  it('a connection lost during the restart: the action reconnects, reads what the host step did, and verifies', async () => {
    const target = join(sshd.dir, 'lost-in-stop')
    // A slow stop-command keeps the host step in stop while the connection is cut.
    const inputs = await deployInputs(sshd, serviceSource(), target, { 'stop-command': 'sleep 2' })
    const port = Number(inputs.ports)
    await deploy({ ...inputs, sha: sha('1') })
    const cut = await runCutDuring('stop', { ...inputs, sha: sha('2') })
    expect(cut.code).toBe(0)
    expect(cut.stdout).toMatch(
      /^Following the host step was cut off \(.*\); reading its output again$/m
    )
    expect(cut.stdout).toMatch(/^The connection to \S+ was lost \(.*\); reconnecting$/m)
    // Its phases are still reported from the host's record: start, then verify.
    expect(cut.stdout).toMatch(/::group::\S+: start\n/)
    expect(await reportedCommit(port)).toBe(sha('2'))
    expect(existsSync(join(target, '.deploy/lock'))).toBe(false)
  })

  it.each([
    ['wait-for-exit', { service: '--exit-delay 2', broken: false }],
    ['start', { service: '', broken: false }],
    ["the rollback's restart", { service: '', broken: true }],
    ['prune', { service: '', broken: false }]
  ])(
    'a connection lost during %s: the job reports what the host did, and the right commit serves',
    async (phase, { service, broken }) => {
      const source = serviceSource()
      const target = join(sshd.dir, `lost-in-${phase.replace(/\W+/g, '-')}`)
      const inputs = await deployInputs(sshd, source, target, { 'version-timeout': '5' }, service)
      const port = Number(inputs.ports)
      const good = await deploy({ ...inputs, sha: sha('1') })
      if (broken) breakService(source)
      const cut = await runCutDuring(
        phase,
        { ...inputs, sha: sha('2') },
        broken ? /^Rolling back to /m : undefined
      )
      if (broken) {
        expect(cut.code).toBe(1)
        expect(failureMessage(cut)).toContain(
          `Rolled back to ${good.outputs.release}, the release live before this deploy: it is verified serving ${sha('1')}.`
        )
      } else expect(cut.code).toBe(0)
      // Prune is over within milliseconds: the cut may fall on it or on the lock release after it.
      if (phase !== 'prune')
        expect(cut.stdout).toMatch(/^The connection to \S+ was lost \(.*\); reconnecting$/m)
      expect(await reportedCommit(port)).toBe(broken ? sha('1') : sha('2'))
      expect(existsSync(join(target, '.deploy/lock'))).toBe(false)
    }
  )

  it('a connection dropped mid-upload fails the job, leaves current untouched, and the next deploy succeeds', async () => {
    const source = richSourceTree()
    const target = join(sshd.dir, 'dropped')
    const inputs = await deployInputs(sshd, source, target)
    const first = await deploy(inputs)
    const live = join(target, 'releases', first.outputs.release)
    const liveDigest = treeDigest(live)
    write(source, 'data/large.bin', randomBytes(48 * 1024 * 1024))

    const failed = await runAction(inputs, {
      whileRunning: async () => {
        await waitFor(
          () => existsSync(join(target, 'releases')) && staging(target).length > 0,
          'the upload to start'
        )
        sshd.dropConnections()
      }
    })
    expect(failed.code).toBe(1)
    expect(failureMessage(failed)).toMatch(/upload: .*(connection|without an exit code)/)
    expect(currentRelease(target)).toBe(`releases/${first.outputs.release}`)
    expect(treeDigest(live)).toEqual(liveDigest)
    expect(existsSync(join(target, '.deploy/lock'))).toBe(false)

    const next = await deploy(inputs)
    expect(currentRelease(target)).toBe(`releases/${next.outputs.release}`)
    expect(staging(target)).toEqual([])
  })

  it('two deploys started at once take turns on the lock', async () => {
    const source = richSourceTree()
    const target = join(sshd.dir, 'concurrent')
    const inputs = await deployInputs(sshd, source, target)
    const [a, b] = await Promise.all([runAction(inputs), runAction(inputs)])
    expect([a.code, b.code]).toEqual([0, 0])
    expect(`${a.stdout}${b.stdout}`).toMatch(
      /^waiting for the deploy lock \([01] of 300 s\), held by: {"run":/m
    )
    const log = readFileSync(join(target, '.deploy/releases.log'), 'utf8')
      .trim()
      .split('\n')
      .map(line => JSON.parse(line))
    expect(log).toHaveLength(2)
    // The second to switch saw the first as its predecessor: they did not interleave.
    expect(log[1].previous_release).toBe(log[0].release)
  })

  it('fails after lock-timeout naming the owner, and changes nothing', async () => {
    const source = richSourceTree()
    const target = join(sshd.dir, 'locked')
    write(
      target,
      '.deploy/lock/owner',
      JSON.stringify({
        run: 'https://github.com/o/r/actions/runs/42',
        sha: 'f'.repeat(40),
        time: '2026-11-24T10:00:00Z',
        token: 'x'
      })
    )
    sshd.handOver(target)
    const result = await runAction(
      await deployInputs(sshd, source, target, { 'lock-timeout': '1' })
    )
    expect(result.code).toBe(1)
    expect(failureMessage(result)).toContain(
      `lock: another deploy holds ${target}/.deploy/lock: https://github.com/o/r/actions/runs/42 (deploying ffffffffffff, since 2026-11-24T10:00:00Z). Waited 1 s (lock-timeout).`
    )
    expect(existsSync(join(target, 'releases'))).toBe(false)
  })

  it('the post step releases the lock of a cancelled run', async () => {
    const source = richSourceTree()
    write(source, 'data/large.bin', randomBytes(48 * 1024 * 1024))
    const target = join(sshd.dir, 'cancelled')
    const inputs = await deployInputs(sshd, source, target)
    const cancelled = await runAction(inputs, {
      whileRunning: async child => {
        await waitFor(() => existsSync(join(target, '.deploy/lock/owner')), 'the lock to be taken')
        child.kill('SIGKILL')
      }
    })
    expect(cancelled.code).toBeNull()
    expect(existsSync(join(target, '.deploy/lock'))).toBe(true)
    expect(JSON.parse(cancelled.state.locks)).toHaveLength(1)
    const post = await runAction(inputs, { entry: 'post', state: cancelled.state })
    expect(post.code).toBe(0)
    expect(post.stdout).toContain(
      `Released ${target}/.deploy/lock on 127.0.0.1:${sshd.port}, left by an interrupted deploy`
    )
    expect(existsSync(join(target, '.deploy/lock'))).toBe(false)
  })

  it('treats hostile target and exclude values as data', async () => {
    const source = richSourceTree()
    write(source, '$(touch pwned-exclude)', 'excluded by its literal name\n')
    const target = join(sshd.dir, `it's a "$(touch pwned-target)" \`touch pwned-tick\` dir`)
    const result = await deploy(
      await deployInputs(sshd, source, target, {
        exclude: '$(touch pwned-exclude)\n*.log',
        'shared-paths': "it's shared/"
      })
    )
    const release = join(target, 'releases', result.outputs.release)
    expect(existsSync(join(release, 'app.py'))).toBe(true)
    expect(existsSync(join(release, '$(touch pwned-exclude)'))).toBe(false)
    // The deploy user's home is where its login shell starts.
    for (const dir of [`/home/${sshd.user}`, sshd.dir, target, release, process.cwd()]) {
      expect(readdirSync(dir).filter(name => name.startsWith('pwned'))).toEqual([])
    }
  })

  it('a full disk never leaves a lock without an owner: it fails clearly, and the next deploy takes the lock at once', async () => {
    const target = join(sshd.dir, 'full-disk')
    await onSmallDisk(target, '1m', async () => {
      mkdirSync(join(target, '.deploy'))
      execFileSync('sh', ['-c', `dd if=/dev/zero of=${target}/filler bs=64k 2>/dev/null || true`])
      sshd.handOver(target)
      const inputs = await deployInputs(sshd, richSourceTree(), target, { 'lock-timeout': '5' })
      const full = await deploy(inputs, 1)
      expect(failureMessage(full)).toMatch(
        new RegExp(
          `lock: could not take ${target}/\\.deploy/lock \\(exit 1\\): .*: the disk is full, or the deploy user may not write there`
        )
      )
      expect(existsSync(join(target, '.deploy/lock'))).toBe(false)
      rmSync(join(target, 'filler'))
      const next = await deploy(inputs)
      expect(next.stdout).not.toMatch(/^waiting for the deploy lock/m)
    })
  })

  it('a full disk is refused before anything is sent: N MB free, M MB needed; nothing changes', async () => {
    const target = join(sshd.dir, 'small-disk')
    await onSmallDisk(target, '20m', async () => {
      const source = richSourceTree()
      write(source, 'data/large.bin', randomBytes(30 * 1024 * 1024))
      const inputs = await deployInputs(sshd, source, target)
      const full = await deploy(inputs, 1)
      expect(failureMessage(full)).toMatch(
        new RegExp(
          `upload: no space left on the host: 19 MB free in ${target}, 3\\d MB needed for the new tree\\. .* Nothing was changed\\.`
        )
      )
      expect(full.outputs['uploaded-bytes']).toBe('0')
      expect(existsSync(join(target, 'releases'))).toBe(false)
      expect(existsSync(join(target, '.deploy/lock'))).toBe(false)
    })
  })

  it('an upload that fills the disk removes its partial tree, and the next deploy succeeds', async () => {
    const target = join(sshd.dir, 'filling-disk')
    await onSmallDisk(target, '64m', async () => {
      const source = richSourceTree()
      write(source, 'data/large.bin', randomBytes(40 * 1024 * 1024))
      const inputs = await deployInputs(sshd, source, target)
      const filler = join(target, 'filler')
      const failed = await runAction(inputs, {
        whileRunning: async () => {
          await waitFor(
            () => existsSync(join(target, 'releases')) && staging(target).length > 0,
            'the upload to start'
          )
          // Something else on the host takes the space the upload was counting on.
          execFileSync('sh', ['-c', `dd if=/dev/zero of=${filler} bs=1M 2>/dev/null || true`])
        }
      })
      expect(failed.code).toBe(1)
      expect(failureMessage(failed)).toMatch(
        /upload: no space left on the host while the new tree was written in \S+; the partial tree was removed/
      )
      expect(staging(target)).toEqual([])
      expect(readdirSync(join(target, 'releases'))).toEqual([])
      rmSync(filler)
      const next = await deploy(inputs)
      expect(currentRelease(target)).toBe(`releases/${next.outputs.release}`)
    })
  })

  it('a disk that fills before the restart: a good release is verified, a broken one rolled back, and no mark or half-written file lies about either', async () => {
    const target = join(sshd.dir, 'full-at-start')
    await onSmallDisk(target, '48m', async () => {
      const source = serviceSource()
      const inputs = await deployInputs(sshd, source, target, { 'version-timeout': '10' })
      const port = Number(inputs.ports)
      await deploy({ ...inputs, sha: sha('1') })
      // The prepare-command runs last before the stop: the restart, verify and rollback run on a full disk.
      const fill = {
        'prepare-command': `dd if=/dev/zero of="$DEPLOY_TARGET/filler" bs=64k 2>/dev/null; df -k "$DEPLOY_TARGET" | tail -n 1`
      }
      const good = await deploy({ ...inputs, ...fill, sha: sha('2') })
      expect(good.stdout).toMatch(/ 0 +100% /)
      expect(await reportedCommit(port)).toBe(sha('2'))
      const live = join(target, 'releases', good.outputs.release)
      expect(readdirSync(live).filter(name => /^(BAD_RELEASE|UNVERIFIED)$/.test(name))).toEqual([])
      breakService(source)
      const broken = await deploy({ ...inputs, ...fill, sha: sha('3') }, 1)
      expect(failureMessage(broken)).toContain(
        `Rolled back to ${good.outputs.release}, the release live before this deploy: it is verified serving ${sha('2')}.`
      )
      expect(currentRelease(target)).toBe(`releases/${good.outputs.release}`)
      expect(await reportedCommit(port)).toBe(sha('2'))
      expect(readdirSync(live).filter(name => /^(BAD_RELEASE|UNVERIFIED)$/.test(name))).toEqual([])
      expect(readdirSync(join(target, '.deploy')).filter(name => name.endsWith('.tmp'))).toEqual([])
      expect(existsSync(join(target, '.deploy/lock'))).toBe(false)
      const journal = readFileSync(join(target, '.deploy/journal'), 'utf8')
      expect(journal).toContain(` confirmed ${good.outputs.release}\n`)
      expect(journal).toContain(` rollback ${broken.outputs.release}: the run rolls back itself\n`)
      rmSync(join(target, 'filler'))
    })
  })

  it('a connection lost during verify: the action reconnects and goes on verifying the new release', async () => {
    const target = join(sshd.dir, 'resumed-verify')
    // It binds 2 s after starting, so verify is still polling when the connection goes.
    const inputs = await deployInputs(sshd, serviceSource(), target, {}, '--listen-delay 2')
    const port = Number(inputs.ports)
    await deploy({ ...inputs, sha: sha('3') })
    const cut = await runCutDuring('verify', { ...inputs, sha: sha('4') })
    expect(cut.code).toBe(0)
    expect(cut.stdout).toMatch(/^The connection to \S+ was lost \(.*\); reconnecting$/m)
    expect(cut.outputs['rolled-back']).toBe('false')
    expect(await reportedCommit(port)).toBe(sha('4'))
    expect(existsSync(join(target, '.deploy/lock'))).toBe(false)
  })

  it('a connection lost while verifying a broken release: verify goes on over a new connection, then the rollback holds', async () => {
    const source = serviceSource()
    const target = join(sshd.dir, 'lost-in-verify')
    const inputs = await deployInputs(sshd, source, target, { 'version-timeout': '20' })
    const port = Number(inputs.ports)
    const good = await deploy({ ...inputs, sha: sha('1') })
    breakService(source)
    const failed = await runCutDuring('verify', { ...inputs, sha: sha('2') })
    expect(failed.code).toBe(1)
    const message = failureMessage(failed)
    expect(message).toMatch(/verify: \S+ \(requested from the host\) gave no commit within 20 s/)
    expect(message).toContain(
      `Rolled back to ${good.outputs.release}, the release live before this deploy: it is verified serving ${sha('1')}.`
    )
    expect(failed.stdout).toMatch(/^The connection to \S+ was lost \(.*\); reconnecting$/m)
    expect(await reportedCommit(port)).toBe(sha('1'))
    expect(existsSync(join(target, '.deploy/lock'))).toBe(false)
  })
})

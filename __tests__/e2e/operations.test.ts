/**
 * The operations besides deploy (DESIGN, "Operations"), run as the runner runs the committed dist/,
 * with no checkout: rollback (by default, by release name, by commit prefix; refused for an
 * unknown commit; returning to what was live when the chosen release fails to start; finished by
 * the post step when cancelled), restart, and verify (a drift check that changes nothing).
 */
import { beforeAll, describe, expect, it } from '@jest/globals'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { logShows, runAction } from '../support/action.js'
import { currentRelease, deploy, deployInputs, failureMessage, useSshd } from '../support/deploy.js'
import { killServiceOnPort, serviceSource, sha, versionAnswer } from '../support/service.js'
import { type TestSshd } from '../support/sshd.js'

let sshd: TestSshd
useSshd(started => (sshd = started))

/** No checkout: a path on the runner that does not exist. */
const NO_CHECKOUT = join(tmpdir(), 'vsd-no-checkout-here')

let target: string
let port: number
let inputs: Record<string, string>
/** The releases deployed, oldest first: commits 1, 2, 3. */
const releases: string[] = []
const flag = join(tmpdir(), `vsd-ops-broken-${process.pid}`)

beforeAll(async () => {
  target = join(sshd.dir, 'ops')
  const base = await deployInputs(sshd, serviceSource(), target)
  port = Number(base.ports)
  // Release 1 refuses to start while the flag exists: a kept release that no longer starts.
  inputs = {
    ...base,
    'start-command': `if [ -e ${flag} ] && grep -q 1111111 REVISION; then echo 'release 1 will not start' >&2; exit 1; fi; exec ${base['start-command']}`
  }
  for (const commit of ['1', '2', '3'])
    releases.push((await deploy({ ...inputs, sha: sha(commit) })).outputs.release)
})

/** The inputs of an operation: no checkout, no sha. */
const operation = (name: string, more: Record<string, string> = {}) => ({
  ...inputs,
  sha: '',
  source: NO_CHECKOUT,
  operation: name,
  ...more
})

describe('operation: rollback', () => {
  it('by default: the newest verified release older than the live one, no checkout needed', async () => {
    const run = await deploy(operation('rollback'))
    expect(run.outputs).toMatchObject({
      release: releases[1],
      sha: sha('2'),
      'previous-release': releases[2],
      'previous-sha': sha('3')
    })
    expect(currentRelease(target)).toBe(`releases/${releases[1]}`)
    expect((await versionAnswer(port)).commit).toBe(sha('2'))
    expect(run.summary).toContain('Rolled back on 1 host')
  })

  it('by release name, and by an 8-hex commit prefix', async () => {
    await deploy(operation('rollback', { 'rollback-to': releases[0] }))
    expect((await versionAnswer(port)).commit).toBe(sha('1'))
    const byCommit = await deploy(operation('rollback', { 'rollback-to': '33333333' }))
    expect(byCommit.outputs.release).toBe(releases[2])
    expect((await versionAnswer(port)).commit).toBe(sha('3'))
  })

  it('to an unknown commit changes nothing', async () => {
    const before = await versionAnswer(port)
    const run = await deploy(operation('rollback', { 'rollback-to': 'cccccccc' }), 1)
    expect(failureMessage(run)).toMatch(
      /choose: rollback-to 'cccccccc' names no kept release .* kept: .*-1111111 \(1111111, verified\)/
    )
    expect(currentRelease(target)).toBe(`releases/${releases[2]}`)
    expect(await versionAnswer(port)).toEqual(before)
  })

  it('whose chosen release fails to start returns to the release that was live', async () => {
    writeFileSync(flag, '')
    try {
      const run = await deploy(operation('rollback', { 'rollback-to': releases[0] }), 1)
      expect(failureMessage(run)).toContain('release 1 will not start')
      expect(run.outputs['rolled-back']).toBe('true')
      expect(currentRelease(target)).toBe(`releases/${releases[2]}`)
      expect((await versionAnswer(port)).commit).toBe(sha('3'))
    } finally {
      rmSync(flag, { force: true })
    }
  })

  it('cancelled during its verify is finished by the post step', async () => {
    const cancelled = await runAction(operation('rollback', { 'rollback-to': releases[1] }), {
      whileRunning: async child => {
        await logShows(child, /::group::\S+: verify\n/)
        child.kill('SIGINT')
      }
    })
    expect(cancelled.code).toBe(1)
    const post = await runAction(operation('rollback', { 'rollback-to': releases[1] }), {
      entry: 'post',
      state: cancelled.state
    })
    expect(post.code).toBe(0)
    expect(post.stdout).toMatch(/the post step verified \S+: it serves 2{40}/)
    expect(currentRelease(target)).toBe(`releases/${releases[1]}`)
    expect((await versionAnswer(port)).commit).toBe(sha('2'))
  })
})

describe('operation: restart', () => {
  it('stops and starts the live release: a new process, the same commit', async () => {
    const before = await versionAnswer(port)
    const run = await deploy(operation('restart'))
    const after = await versionAnswer(port)
    expect(after.commit).toBe(before.commit)
    expect(after.pid).not.toBe(before.pid)
    expect(run.outputs.release).toBe(releases[1])
    expect(run.summary).toContain('Restarted on 1 host')
    expect(run.stdout).not.toMatch(/::group::\S+: switch\n/)
  })
})

describe('operation: verify', () => {
  it('passes on the live release answering its commit, and while a deploy holds the lock', async () => {
    mkdirSync(join(target, '.deploy/lock'))
    writeFileSync(join(target, '.deploy/lock/owner'), '{"run": "another run"}\n')
    try {
      const run = await deploy(operation('verify', { sha: sha('2') }))
      expect(run.stdout).toContain('A deploy holds the lock')
      expect(run.outputs['reported-version']).toBe('1.0.0')
      expect(run.summary).toContain('Verified on 1 host')
    } finally {
      rmSync(join(target, '.deploy/lock'), { recursive: true, force: true })
    }
  })

  it('fails on another commit, naming what is live and what was expected', async () => {
    const run = await deploy(operation('verify', { sha: sha('3') }), 1)
    expect(failureMessage(run)).toContain(
      `choose: ${releases[1]} is live with commit ${sha('2')}, but ${sha('3')} was expected`
    )
  })

  it('fails on a dead service, saying what it answered', async () => {
    killServiceOnPort(port)
    const run = await deploy(operation('verify', { sha: sha('2'), 'version-timeout': '2' }), 1)
    expect(failureMessage(run)).toMatch(
      new RegExp(
        `verify: ${releases[1]} is live with ${sha('2')}, but \\S+ \\(requested from the host\\) gave no commit`
      )
    )
  })
})

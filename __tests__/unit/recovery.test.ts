/**
 * The post step's recovery rules (recovery.ts), from restart logs as the host step writes them:
 * what it does about a switch a cancelled or killed run left unverified.
 */
import { describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stepOutcome } from '../../src/remote/host-step.js'
import { afterFailure, recoveryFor } from '../../src/engine/recovery.js'
import { getSettings } from '../../src/inputs/settings.js'
import type { UnverifiedSwitch } from '../../src/model/post-state.js'
import { inputReader, sourceTree, TEST_SHA } from '../support/fixtures.js'
import { restartLog, STEP_KEY as key, stepEnding, upToStart } from '../support/step-log.js'

const RELEASE = '20261202T000000Z-0123456'
const entry: UnverifiedSwitch = {
  host: 'a.example',
  port: 22,
  username: 'deploy',
  target: '/srv/app',
  release: RELEASE,
  sha: TEST_SHA,
  fallback: { release: '20261201T000000Z-aaaaaaa', sha: 'a'.repeat(40) },
  token: 't',
  run: 'r'
}

const recover = (log: string) => recoveryFor(entry, { step: stepOutcome(log) })

describe('the post step, for a switch left unverified', () => {
  it('reports what the host watchdog did, before reading anything else', () => {
    const undo = { undone: true, text: 'The host undid R by itself' }
    expect(recoveryFor(entry, { undo })).toEqual({ action: 'report-undo', undo })
  })

  it('verifies a release whose restart finished', () => {
    expect(recover(stepEnding(RELEASE, 'finished'))).toEqual({
      action: 'verify'
    })
  })

  it('leaves a restart the host killed halfway: no known state to build on', () => {
    const log = stepEnding(RELEASE, 'killed')
    expect(recover(log)).toEqual({ action: 'leave', why: 'killed', phase: 'wait-for-exit' })
  })

  it('leaves a restart that has not finished', () => {
    expect(recover(stepEnding(RELEASE, 'unfinished'))).toEqual({
      action: 'leave',
      why: 'unfinished'
    })
  })

  it('leaves a run cut off before its restart began: the log is an earlier restart', () => {
    const earlier = stepEnding('20261130T000000Z-bbbbbbb', 'finished')
    expect(recover(earlier)).toEqual({ action: 'leave', why: 'never-started' })
  })

  it('reports a restart that failed before the new release started, with no rollback', () => {
    const log = stepEnding(RELEASE, 'failed-wait')
    expect(recover(log)).toEqual({ action: 'failed-before-start', phase: 'wait-for-exit' })
  })

  it('takes a failed start as a failed check', () => {
    const log = stepEnding(RELEASE, 'failed-start')
    expect(recover(log)).toEqual({ action: 'failed-start' })
  })

  it('is not misled by a stop-command that prints marker-shaped lines', () => {
    const phases = upToStart(RELEASE)
    phases[0][1].push('@@exit 0 1', '@@phase start 1', `@@data release ${RELEASE}`)
    const log = restartLog(phases.slice(0, 1), [`@@${key} exit 6 100`])
    expect(recover(log)).toEqual({ action: 'failed-before-start', phase: 'stop' })
  })
})

describe('after the new release failed, the same rule as the runner', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vsd-recovery-'))
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'key')])
  const settings = (inputs: Record<string, string> = {}) =>
    getSettings(
      inputReader({
        host: 'a.example',
        username: 'deploy',
        'private-key': readFileSync(join(dir, 'key'), 'utf8'),
        source: sourceTree(),
        target: '/srv/app',
        'start-command': 'python3 -m app',
        'version-url': 'http://127.0.0.1:8000/version',
        sha: TEST_SHA,
        ...inputs
      })
    )

  it('rolls back to the fallback', () => {
    expect(afterFailure(settings(), entry, 'verify')).toEqual({ rollBack: true })
    expect(afterFailure(settings(), entry, 'start')).toEqual({ rollBack: true })
  })

  it('not without a fallback, nor with rollback-on-failure: false', () => {
    expect(afterFailure(settings(), { ...entry, fallback: undefined }, 'verify')).toEqual({
      rollBack: false,
      why: 'there is no release to roll back to'
    })
    expect(afterFailure(settings({ 'rollback-on-failure': 'false' }), entry, 'start')).toEqual({
      rollBack: false,
      why: 'rollback-on-failure is false'
    })
  })
})

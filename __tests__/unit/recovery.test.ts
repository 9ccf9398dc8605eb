/**
 * The post step's recovery rules (recovery.ts), from restart logs as the host step writes them:
 * what it does about a switch a cancelled or killed run left unverified.
 */
import { describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stepOutcome } from '../../src/host-step.js'
import { stepLine } from '../../src/protocol.js'
import { afterFailure, recoveryFor } from '../../src/recovery.js'
import { getSettings } from '../../src/settings.js'
import type { UnverifiedSwitch } from '../../src/post-state.js'
import { inputReader, sourceTree, TEST_SHA } from '../support/fixtures.js'

const key = '0123456789ab'
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

/** A restart log: the step line, then `phases` (each with its lines), then how it ended. */
function restartLog(phases: [string, string[]][], end: string[]): string {
  return [
    stepLine(key),
    `@@${key} pid 4242`,
    ...phases.flatMap(([phase, lines]) => [`@@${key} phase ${phase} 100.0`, ...lines]),
    ...end
  ].join('\n')
}

const upToStart = (release = RELEASE): [string, string[]][] => [
  [
    'stop',
    [`@@${key} data mark 99`, 'SIGTERM to 77 (python3 -m app): recorded by the last deploy']
  ],
  ['wait-for-exit', ['old service gone after 0 s']],
  ['switch', [`@@${key} data release ${release}`, `/srv/app/current -> releases/${release}`]],
  ['start', ['Started python3 -m app as process group 80']]
]

const recover = (log: string) => recoveryFor(entry, { step: stepOutcome(log) })

describe('the post step, for a switch left unverified', () => {
  it('reports what the host watchdog did, before reading anything else', () => {
    const undo = { undone: true, text: 'The host undid R by itself' }
    expect(recoveryFor(entry, { undo })).toEqual({ action: 'report-undo', undo })
  })

  it('verifies a release whose restart finished', () => {
    expect(recover(restartLog(upToStart(), [`@@${key} exit 0 101.5`]))).toEqual({
      action: 'verify'
    })
  })

  it('leaves a restart the host killed halfway: no known state to build on', () => {
    const log = restartLog(upToStart().slice(0, 2), [`@@${key} died 137`])
    expect(recover(log)).toEqual({ action: 'leave', why: 'killed', phase: 'wait-for-exit' })
  })

  it('leaves a restart that has not finished', () => {
    expect(recover(restartLog(upToStart().slice(0, 1), []))).toEqual({
      action: 'leave',
      why: 'unfinished'
    })
  })

  it('leaves a run cut off before its restart began: the log is an earlier restart', () => {
    const earlier = restartLog(upToStart('20261130T000000Z-bbbbbbb'), [`@@${key} exit 0 101`])
    expect(recover(earlier)).toEqual({ action: 'leave', why: 'never-started' })
  })

  it('reports a restart that failed before the new release started, with no rollback', () => {
    const log = restartLog(upToStart().slice(0, 2), [
      `@@${key} error pid 77 still running: python3 -m app`,
      `@@${key} exit 3 130`
    ])
    expect(recover(log)).toEqual({ action: 'failed-before-start', phase: 'wait-for-exit' })
  })

  it('takes a failed start as a failed check', () => {
    const log = restartLog(upToStart(), [
      `@@${key} error the start command exited with code 1 within 1 s`,
      `@@${key} exit 4 101`
    ])
    expect(recover(log)).toEqual({ action: 'failed-start' })
  })

  it('is not misled by a stop-command that prints marker-shaped lines', () => {
    const phases = upToStart()
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

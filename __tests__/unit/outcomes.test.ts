/**
 * A rollback's outcome as data, and its one sentence (model/outcomes.ts): what the annotation, the
 * summary and the post step say for each.
 */
import { describe, expect, it } from '@jest/globals'
import {
  cancelSentence,
  operationOn,
  rollbackSentence,
  type RollbackOutcome
} from '../../src/model/outcomes.js'

const SHA = 'a'.repeat(40)
const KEPT = /The database keeps the migrations that R2's migrate-command ran/

describe('rollbackSentence', () => {
  it.each<[RollbackOutcome, string]>([
    [
      { kind: 'restored', release: 'R1', sha: SHA, which: 'live', servingSince: 0 },
      `Rolled back to R1, the release live before this deploy: it is verified serving ${SHA}.`
    ],
    [
      {
        kind: 'restored',
        release: 'R0',
        sha: SHA,
        which: 'verified',
        neverVerified: 'R1',
        servingSince: 0
      },
      `Rolled back to R0, the last verified release (R1 was never verified): it is verified serving ${SHA}.`
    ],
    [
      { kind: 'nothing', why: 'no release was live before this deploy' },
      'There is nothing to roll back to (no release was live before this deploy); the failed release was stopped.'
    ],
    [
      { kind: 'nothing', why: 'x', stopFailed: 'timed out' },
      'There is nothing to roll back to (x), and stopping the failed release failed too: timed out'
    ],
    [
      { kind: 'failed', release: 'R1', sha: SHA, error: 'no answer' },
      'The rollback to R1 (aaaaaaaaaaaa) also failed: no answer'
    ],
    [{ kind: 'not-run', error: 'connection lost' }, 'The rollback failed: connection lost'],
    [
      { kind: 'by-host', undone: true, text: 'The host undid R2 by itself.' },
      'The host undid R2 by itself.'
    ]
  ])('%o', (outcome, sentence) => {
    expect(rollbackSentence(outcome)).toBe(sentence)
  })

  it('says the database keeps the migrations of a migrated release, unless the host undid nothing', () => {
    const restored: RollbackOutcome = {
      kind: 'restored',
      release: 'R1',
      sha: SHA,
      which: 'live',
      servingSince: 0
    }
    expect(rollbackSentence(restored, 'R2')).toMatch(KEPT)
    expect(rollbackSentence(restored)).not.toMatch(KEPT)
    expect(rollbackSentence({ kind: 'by-host', undone: true, text: 'Undone.' }, 'R2')).toMatch(KEPT)
    expect(rollbackSentence({ kind: 'by-host', undone: false, text: 'Failed.' }, 'R2')).toBe(
      'Failed.'
    )
  })
})

describe('cancelSentence', () => {
  it('names where each host was, and what finishes it', () => {
    const text = cancelSentence({
      signal: 'SIGINT',
      operation: 'rollback',
      where: [
        { host: 'a:22', phase: 'verify', stands: false },
        { host: 'b:22', phase: 'prune', stands: true }
      ]
    })
    expect(text).toMatch(
      /^Cancelled \(SIGINT\) during verify on a:22, prune on b:22, after its new release was verified\. A restart already running/
    )
    expect(text).toContain('the post step verifies a release')
  })

  it('names the operation when no host had begun, and a verify has nothing to finish', () => {
    expect(cancelSentence({ signal: 'SIGTERM', operation: 'restart', where: [] })).toMatch(
      /^Cancelled \(SIGTERM\) during the restart\. A restart already running/
    )
    expect(cancelSentence({ signal: 'SIGINT', operation: 'verify', where: [] })).toBe(
      'Cancelled (SIGINT) during the verify. A verify changes nothing on the host: there is nothing to finish.'
    )
  })

  it('names an operation on a host as messages do', () => {
    expect(operationOn('deploy', 'h')).toBe('deploy to h')
    expect(operationOn('rollback', 'h')).toBe('rollback on h')
  })
})

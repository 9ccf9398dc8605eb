import { describe, expect, it } from '@jest/globals'
import { commitMatches, readCommit } from '../../src/remote/version-probe.js'

const SHA = '1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d'

describe('commitMatches', () => {
  it.each([
    [SHA, true],
    [SHA.toUpperCase(), true],
    [SHA.slice(0, 7), true],
    [SHA.slice(0, 12), true],
    [SHA.slice(0, 6), false],
    ['unknown', false],
    ['', false],
    ['ffffffffff', false],
    [`${SHA}0`, false]
  ])('%j matches: %s', (reported, expected) => {
    expect(commitMatches(reported, SHA)).toBe(expected)
  })
})

describe('readCommit', () => {
  it('takes the first default key, in order, and the version field', () => {
    expect(
      readCommit(JSON.stringify({ revision: 'r', sha: 's', version: '1.2.3' }), undefined)
    ).toEqual({ commit: 's', version: '1.2.3' })
    expect(readCommit(JSON.stringify({ gitSha: 'g' }), undefined)).toEqual({ commit: 'g' })
  })

  it('follows a version-field dot path, numbers included', () => {
    expect(
      readCommit(JSON.stringify({ build: { git: { sha: 'abc1234' } } }), 'build.git.sha')
    ).toEqual({ commit: 'abc1234' })
    expect(readCommit(JSON.stringify({ build: 1234567 }), 'build')).toEqual({ commit: '1234567' })
  })

  it('makes each value from the answer one line without control characters, at most 200 characters', () => {
    expect(
      readCommit(
        JSON.stringify({
          commit: `${SHA}\n::error::x`,
          version: `1.0\r\n::error::x\u202e${'y'.repeat(300)}`
        }),
        undefined
      )
    ).toEqual({
      commit: `${SHA} ::error::x`,
      version: `1.0 ::error::x ${'y'.repeat(185)}…`
    })
  })

  it('reads a plain-text body, its first word', () => {
    expect(readCommit(`${SHA}\n`, undefined)).toEqual({ commit: SHA })
  })

  it.each([
    [
      '{"status":"ok"}',
      undefined,
      'the JSON body has none of commit, sha, revision, git_sha, gitSha, commit_sha; its top-level keys are status. Set version-field'
    ],
    [
      '{"build":{}}',
      'build.sha',
      "the JSON body has no text at 'build.sha' (version-field); its top-level keys are build"
    ],
    ['plain', 'commit', "the body is not JSON, but version-field 'commit' is set"],
    ['  ', undefined, 'the body is empty'],
    [
      '<html><body>502 Bad Gateway</body></html>',
      undefined,
      'the body is HTML ("<html><body>502 Bad Gateway</body></html>"), not a commit: point version-url at the endpoint that reports it'
    ]
  ])('explains %j (field %s)', (body, field, problem) => {
    expect(readCommit(body, field)).toEqual({ problem })
  })
})

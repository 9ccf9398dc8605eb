/**
 * What operation rollback chooses (chooseRollback), from the releases a host keeps: the default,
 * a release name, a commit prefix; what it refuses, saying what is kept.
 */
import { describe, expect, it } from '@jest/globals'
import { parseReleases, type HostReleases } from '../../src/commands/releases.js'
import { chooseRollback } from '../../src/tasks/releases.js'

const sha = (digit: string) => digit.repeat(40)
const host: HostReleases = parseReleases(
  [
    'live 20261204T000000Z-4444444',
    `release 20261201T000000Z-1111111 verified ${sha('1')}`,
    `release 20261202T000000Z-2222222 bad ${sha('2')}`,
    `release 20261203T000000Z-3333333 unverified ${sha('3')}`,
    `release 20261204T000000Z-4444444 verified ${sha('4')}`,
    `release 20261205T000000Z-5555555 verified ${sha('5')}`
  ].join('\n')
)

describe('chooseRollback', () => {
  it('takes the newest verified release older than the live one by default', () => {
    expect(chooseRollback(host, undefined).name).toBe('20261201T000000Z-1111111')
  })

  it('takes any kept release named in full, a bad or unverified one too', () => {
    expect(chooseRollback(host, '20261202T000000Z-2222222').state).toBe('bad')
    expect(chooseRollback(host, '20261205T000000Z-5555555').sha).toBe(sha('5'))
  })

  it('takes a verified release by a commit prefix of 7 or more, newest first', () => {
    expect(chooseRollback(host, '1111111').name).toBe('20261201T000000Z-1111111')
    expect(chooseRollback(host, sha('5')).name).toBe('20261205T000000Z-5555555')
  })

  it.each([
    [
      '2222222',
      'matches only 20261202T000000Z-2222222 (2222222, BAD_RELEASE), which never passed verify or failed since: name the release by its full name'
    ],
    ['3333333', 'matches only 20261203T000000Z-3333333 (3333333, unverified)'],
    ['4444444', '20261204T000000Z-4444444 (4444444, verified) is already live'],
    ['20261204T000000Z-4444444', 'is already live'],
    ['abcdefa', "rollback-to 'abcdefa' names no kept release"],
    ['123456', "rollback-to '123456' names no kept release"]
  ])('refuses %s, saying why', (rollbackTo, message) => {
    expect(() => chooseRollback(host, rollbackTo)).toThrow(message)
  })

  it('has nothing to choose without an older verified release, and says what is kept', () => {
    const only = parseReleases(
      `live 20261201T000000Z-1111111\nrelease 20261201T000000Z-1111111 verified ${sha('1')}`
    )
    expect(() => chooseRollback(only, undefined)).toThrow(
      'no release older than the live one (20261201T000000Z-1111111 (1111111, verified)) passed verify, so there is nothing to roll back to; kept: 20261201T000000Z-1111111 (1111111, verified)'
    )
  })
})

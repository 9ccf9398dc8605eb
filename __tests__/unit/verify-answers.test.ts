/**
 * verify's readers of what its host scripts answered (commands/verify.ts): url-host.sh run here,
 * and identity.sh and the alive count from sample answers.
 */
import { describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import {
  readAlive,
  readServiceIdentity,
  readUrlHost,
  urlHostScript
} from '../../src/commands/verify.js'

const runHere = (text: string) => execFileSync('sh', ['-c', text], { encoding: 'utf8' })

describe('url-host.sh, as readUrlHost reads it', () => {
  it('an address literal is itself, and the host lists its own loopback', () => {
    const answer = readUrlHost(runHere(urlHostScript('127.0.0.1').text))
    expect(answer.address).toBe('127.0.0.1')
    expect(answer.locals).toContain('127.0.0.1')
  })

  it('a name that resolves nowhere has no address', () => {
    expect(readUrlHost(runHere(urlHostScript('no-such-host.invalid').text)).address).toBe(undefined)
  })
})

describe('readServiceIdentity', () => {
  it('names each holder older than the stop, each stranger, the free ports and what was recorded', () => {
    const stdout = [
      'old 8000 41 1767225600 python3 -m app',
      'stranger 9000 ? ? a process this user cannot see, or none',
      'free 8001',
      'recorded 50 51 ',
      'answered 12.5'
    ].join('\n')
    expect(readServiceIdentity(stdout)).toEqual({
      old: ['port 8000: PID 41, started 2026-01-01T00:00:00.000Z, python3 -m app'],
      strangers: ['port 9000: a process this user cannot see, or none'],
      free: ['8001'],
      recorded: '50 51',
      answered: 12.5
    })
  })

  it('an answer with nothing to report: no holders, nothing recorded, no first answer', () => {
    expect(readServiceIdentity('')).toEqual({
      old: [],
      strangers: [],
      free: [],
      recorded: undefined,
      answered: undefined
    })
  })
})

describe('readAlive', () => {
  it('counts the new start’s processes, and assumes one when the script said nothing', () => {
    expect(readAlive('alive 0\n')).toBe(0)
    expect(readAlive('alive 3\n')).toBe(3)
    expect(readAlive('')).toBe(1)
  })
})

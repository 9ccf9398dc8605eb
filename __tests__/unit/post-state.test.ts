/**
 * The post step's state: what the main step saves reads back as it was written, and an entry that
 * is not the main step's (hand-edited, from another version) is left out with a warning, never
 * acted on half-read.
 */
import { describe, expect, it } from '@jest/globals'
import { loadPostState } from '../../src/model/post-state.js'
import { SAMPLE_LOCK } from '../support/fixtures.js'

function withState<T>(state: Record<string, string>, body: () => T): T {
  const saved = { ...process.env }
  for (const [name, value] of Object.entries(state)) process.env[`STATE_${name}`] = value
  try {
    return body()
  } finally {
    process.env = saved
  }
}

const lock = { ...SAMPLE_LOCK, release: 'R1' }

describe('loadPostState', () => {
  it('reads back what the main step saved', () => {
    const state = withState({ locks: JSON.stringify([lock]), deployment: '42' }, loadPostState)
    expect(state).toEqual({ unverified: [], restarts: [], locks: [lock], deployment: 42 })
  })

  it('nothing saved: nothing to do', () => {
    expect(withState({}, loadPostState)).toEqual({
      unverified: [],
      restarts: [],
      locks: [],
      deployment: undefined
    })
  })

  it("leaves out entries that are not the main step's, and text that is not JSON", () => {
    const writes: string[] = []
    const write = process.stdout.write.bind(process.stdout)
    process.stdout.write = ((chunk: string) => (writes.push(String(chunk)), true)) as never
    try {
      const state = withState(
        {
          locks: JSON.stringify([lock, { ...lock, port: '22' }, null]),
          restarts: 'not json',
          deployment: 'x'
        },
        loadPostState
      )
      expect(state.locks).toEqual([lock])
      expect(state.restarts).toEqual([])
      expect(state.deployment).toBeUndefined()
    } finally {
      process.stdout.write = write
    }
    expect(writes.join('')).toContain(
      "::warning::The post step ignored part of its saved state 'locks'"
    )
  })
})

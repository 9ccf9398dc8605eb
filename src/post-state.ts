import * as core from '@actions/core'
import type { HeldLock } from './phases/lock.js'
import type { RunningRestart } from './phases/restart.js'
import type { UnverifiedSwitch } from './unverified.js'

/**
 * What the main step leaves the post step, which finishes a cancelled or killed run: saved with
 * core.saveState as the main step goes, read back once, checked, by the post step.
 */
export interface PostState {
  /** Switches not yet verified: the post step verifies them, or rolls back. */
  unverified: UnverifiedSwitch[]
  /** Restart steps running on a host: the post step reads how they ended. */
  restarts: RunningRestart[]
  /** Deploy locks held: the post step releases them. */
  locks: HeldLock[]
  /** The GitHub deployment this run created, to mark with what the post step found. */
  deployment?: number
}

type ListKey = Exclude<keyof PostState, 'deployment'>

/** Saves one part of the post step's state (the whole list each time: saveState overwrites). */
export function savePostState<K extends keyof PostState>(key: K, value: PostState[K]): void {
  core.saveState(key, key === 'deployment' ? String(value) : JSON.stringify(value))
}

/** The fields each saved entry must have, with their types: anything else is not ours. */
const REQUIRED: Record<ListKey, Record<string, 'string' | 'number'>> = {
  unverified: {
    host: 'string',
    port: 'number',
    username: 'string',
    target: 'string',
    release: 'string',
    sha: 'string',
    token: 'string',
    run: 'string'
  },
  restarts: { host: 'string', port: 'number', username: 'string', outFile: 'string' },
  locks: {
    host: 'string',
    port: 'number',
    username: 'string',
    lockDir: 'string',
    token: 'string',
    restartLog: 'string'
  }
}

function savedList<K extends ListKey>(key: K): PostState[K] {
  const text = core.getState(key)
  if (!text) return []
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    parsed = undefined
  }
  const entries = Array.isArray(parsed) ? (parsed as unknown[]) : []
  const valid = entries.filter(
    (entry): entry is Record<string, unknown> =>
      typeof entry === 'object' &&
      entry !== null &&
      Object.entries(REQUIRED[key]).every(
        ([field, type]) => typeof (entry as Record<string, unknown>)[field] === type
      )
  )
  if (valid.length !== entries.length || !Array.isArray(parsed))
    core.warning(
      `The post step ignored part of its saved state '${key}': it is not what the main step writes`
    )
  return valid as unknown as PostState[K]
}

/** Everything the main step saved for the post step. */
export function loadPostState(): PostState {
  const deployment = Number(core.getState('deployment'))
  return {
    unverified: savedList('unverified'),
    restarts: savedList('restarts'),
    locks: savedList('locks'),
    deployment: Number.isInteger(deployment) && deployment > 0 ? deployment : undefined
  }
}

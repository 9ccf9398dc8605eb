import * as core from '@actions/core'

/**
 * A host where this run switched to a release (or began rolling back to one) that has not yet been
 * verified: if the main step is cancelled or killed before the answer, the post step verifies it
 * and, if that fails, rolls back to `fallback`.
 */
export interface UnverifiedSwitch {
  host: string
  port: number
  username: string
  /** The target with `~/` resolved, and the start log, as the main step used them. */
  target: string
  startLog?: string
  /** The release switched to (or being rolled back to) and the commit it must report. */
  release: string
  sha: string
  /** The release live before this deploy, to roll back to; none while a rollback runs. */
  fallback?: { release: string; sha: string }
  /** The release's migrate-command ran: a rollback past it says the database keeps them. */
  migrated?: boolean
  /** The lock token of the run, which the post step's rollback uses too. */
  token: string
  run: string
}

/** A restart step under way on a host: the post step reads how it ended. */
export interface RunningRestart {
  host: string
  port: number
  username: string
  outFile: string
}

/** A deploy lock this run holds (or is taking): the post step releases it. */
export interface HeldLock {
  host: string
  port: number
  username: string
  lockDir: string
  token: string
  /** The restart step's output: the lock is released only once no step is writing it. */
  restartLog: string
  /** The run's new release, once named: removed with the lock unless it is live. */
  release?: string
}

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
type Entry<K extends ListKey> = PostState[K][number]

/** What names one entry of each list: a later entry with the same identity replaces it. */
const IDENTITY = {
  unverified: (entry: Pick<UnverifiedSwitch, 'host' | 'port' | 'target'>) =>
    [entry.host, entry.port, entry.target].join(' '),
  restarts: (entry: Pick<RunningRestart, 'host' | 'outFile'>) =>
    [entry.host, entry.outFile].join(' '),
  locks: (entry: Pick<HeldLock, 'host' | 'token'>) => [entry.host, entry.token].join(' ')
}
type Identity<K extends ListKey> = Parameters<(typeof IDENTITY)[K]>[0]

/** The lists as this step last saved them. */
const saved: PostState = { unverified: [], restarts: [], locks: [] }

/** Saves one part of the post step's state (the whole list each time: saveState overwrites). */
function savePostState<K extends keyof PostState>(key: K, value: PostState[K]): void {
  core.saveState(key, key === 'deployment' ? String(value) : JSON.stringify(value))
}

/** Drops the saved entry `which` identifies from the list `key`, and keeps `entry` in its place. */
function replaceEntry<K extends ListKey>(key: K, which: Identity<K>, entry?: Entry<K>): void {
  const identity = IDENTITY[key] as (entry: Identity<K>) => string
  const list = saved[key] as Identity<K>[]
  const index = list.findIndex(other => identity(other) === identity(which))
  if (index >= 0) list.splice(index, 1)
  if (entry) list.push(entry)
  savePostState(key, saved[key])
}

/** Saves `entry` for the post step, in place of an earlier one for the same lock, restart or switch. */
export function keepForPostStep<K extends ListKey>(key: K, entry: Entry<K>): void {
  replaceEntry(key, entry, entry)
}

/** Forgets the entry `which` names: the main step finished it. */
export function dropForPostStep<K extends ListKey>(key: K, which: Identity<K>): void {
  replaceEntry(key, which)
}

/** Saves the GitHub deployment this run created. */
export function saveDeployment(id: number): void {
  savePostState('deployment', id)
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

/**
 * Written first by the main step, empty: every key the post step reads then comes from the state
 * file, never from a `::save-state` line on stdout (a host's output that got past the log's
 * neutralising would still be overruled: the file's value wins for the names it sets).
 */
export function startPostState(): void {
  for (const key of ['unverified', 'restarts', 'locks'] as const) {
    saved[key] = []
    savePostState(key, [])
  }
  core.saveState('deployment', '')
}

/** Whether the main step left the post step anything to do (the state it saved holds an entry). */
export function postStateSaved(): boolean {
  return (['unverified', 'restarts', 'locks'] as const).some(key => {
    const text = core.getState(key)
    return text !== '' && text !== '[]'
  })
}

/** What this run's inputs allow an entry to name: its hosts, its target, releases of the action's form. */
export interface PostStateScope {
  hosts: { host: string; port: number; username: string }[]
  /** The target input as given (`~/…` is expanded on the host: any absolute path ending the same way). */
  target: string
}

/** A release name the action makes (releaseName, uniqueRelease) or the in-place tree. */
const RELEASE = /^(\d{8}T\d{6}Z-[0-9a-f]{7}(-\d+)?|tree)$/

/** Why an entry is not one this run's main step could have written, or undefined when it is. */
function outOfScope(
  key: ListKey,
  entry: Record<string, unknown>,
  scope: PostStateScope
): string | undefined {
  if (
    !scope.hosts.some(
      host =>
        host.host === entry.host && host.port === entry.port && host.username === entry.username
    )
  )
    return "its host is not one of this run's"
  const targetOf = (path: string, suffix: string) =>
    path.endsWith(suffix) ? path.slice(0, path.length - suffix.length) : undefined
  const target =
    key === 'unverified'
      ? (entry.target as string)
      : key === 'locks'
        ? targetOf(entry.lockDir as string, '/.deploy/lock')
        : targetOf(entry.outFile as string, '/.deploy/restart.log')
  const inTarget =
    target !== undefined &&
    !target.split('/').includes('..') &&
    (scope.target.startsWith('~/')
      ? target.startsWith('/') && target.endsWith(scope.target.slice(1))
      : target === scope.target)
  if (!inTarget) return "it names a path outside this run's target"
  if (key === 'locks' && entry.restartLog !== `${target}/.deploy/restart.log`)
    return "it names a path outside this run's target"
  const releases = [
    entry.release,
    (entry.fallback as { release?: unknown } | undefined)?.release
  ].filter(release => release !== undefined)
  if (releases.some(release => typeof release !== 'string' || !RELEASE.test(release)))
    return 'it names a release the action would not make'
  if (key === 'unverified' && !/^[0-9a-f]{40}$/.test(entry.sha as string))
    return 'its commit is not a full SHA'
  return undefined
}

/**
 * Everything the main step saved for the post step, checked against what this run's inputs allow
 * (`scope`): an entry for another host, a path outside the target or a release name the action
 * would not make is left out, with a warning, never acted on.
 */
export function loadPostState(scope?: PostStateScope): PostState {
  const deployment = Number(core.getState('deployment'))
  const checked = <K extends ListKey>(key: K): PostState[K] => {
    const entries = savedList(key)
    if (!scope) return entries
    return entries.filter(entry => {
      const why = outOfScope(key, entry as unknown as Record<string, unknown>, scope)
      if (why)
        core.warning(
          `The post step ignored an entry of its saved state '${key}': ${why}, so this run's main step did not write it`
        )
      return !why
    }) as PostState[K]
  }
  return {
    unverified: checked('unverified'),
    restarts: checked('restarts'),
    locks: checked('locks'),
    deployment: Number.isInteger(deployment) && deployment > 0 ? deployment : undefined
  }
}

import { savePostState } from './post-state.js'

/**
 * A host where this run switched to a release (or began rolling back to one) that has not yet been
 * verified, saved for the post step: if the main step is cancelled or killed before the answer, the
 * post step verifies it and, if that fails, rolls back to `fallback`.
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
  /** The lock token of the run, which the post step's rollback uses too. */
  token: string
  run: string
}

const pending: UnverifiedSwitch[] = []

/** Saves (or, with `undefined`, forgets) the unverified switch on `host`, as the `unverified` state. */
export function trackUnverified(
  where: Pick<UnverifiedSwitch, 'host' | 'port' | 'target'>,
  entry: UnverifiedSwitch | undefined
): void {
  const index = pending.findIndex(
    other => other.host === where.host && other.port === where.port && other.target === where.target
  )
  if (index >= 0) pending.splice(index, 1)
  if (entry) pending.push(entry)
  savePostState('unverified', pending)
}

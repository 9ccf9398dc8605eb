import type { Operation } from '../inputs/settings.js'
/**
 * What a rollback came to, as data: the rollback phase, the engine and the post step return and
 * pass these, and `rollbackSentence` is the one place each becomes words (the annotation, the
 * summary, the post step's message).
 */
export type RollbackOutcome =
  /** The release it returned to is verified serving; its first answer ends the downtime. */
  | {
      kind: 'restored'
      release: string
      sha: string
      /** `live`: the release live before the deploy; `verified`: the last verified one, as that one never was. */
      which: 'live' | 'verified'
      /** The release live before, when it was never verified (which: verified). */
      neverVerified?: string
      servingSince: number
    }
  /** No release to return to: the failed one was stopped (or stopping it failed too). */
  | { kind: 'nothing'; why: string; stopFailed?: string }
  /** The return to `release` failed. */
  | { kind: 'failed'; release: string; sha: string; error: string }
  /** The rollback could not run at all. */
  | { kind: 'not-run'; error: string }
  /** The host's watchdog had undone the release already (this run was cut off past its budget). */
  | { kind: 'by-host'; undone: boolean; text: string }
  /**
   * Overlap: the new release failed before the old service was retired; its processes were stopped
   * and the old one, never stopped, still serves `release` (none: the same release, restarted).
   */
  | { kind: 'withdrawn'; release?: string; sha?: string }

/** What a rollback past a release whose migrate-command ran says: the migrations stay. */
export function migrationsKept(release: string): string {
  return (
    `The database keeps the migrations that ${release}'s migrate-command ran: what serves after the rollback runs against them. ` +
    'A rollback cannot undo a migration (README, "Database migrations").'
  )
}

/**
 * The rollback's outcome in one sentence; `migrated` names the release whose migrate-command ran,
 * and the sentence then says the database keeps its migrations (unless the host undid nothing).
 */
export function rollbackSentence(outcome: RollbackOutcome, migrated?: string): string {
  const text = ((): string => {
    switch (outcome.kind) {
      case 'restored':
        return `Rolled back to ${outcome.release}, ${
          outcome.which === 'live'
            ? 'the release live before this deploy'
            : `the last verified release (${outcome.neverVerified ?? 'the release live before this deploy'} was never verified)`
        }: it is verified serving ${outcome.sha}.`
      case 'nothing':
        return outcome.stopFailed === undefined
          ? `There is nothing to roll back to (${outcome.why}); the failed release was stopped.`
          : `There is nothing to roll back to (${outcome.why}), and stopping the failed release failed too: ${outcome.stopFailed}`
      case 'failed':
        return `The rollback to ${outcome.release} (${outcome.sha.slice(0, 12)}) also failed: ${outcome.error}`
      case 'not-run':
        return `The rollback failed: ${outcome.error}`
      case 'by-host':
        return outcome.text
      case 'withdrawn':
        return outcome.release
          ? `Withdrew it (overlap): its processes were stopped and ${outcome.release} is live again; the old service was never stopped and still serves ${outcome.sha ?? 'its commit'}.`
          : 'Withdrew the new instance (overlap): its processes were stopped; the running service was never stopped and still serves.'
    }
  })()
  const kept = migrated && (outcome.kind !== 'by-host' || outcome.undone)
  return kept ? `${text} ${migrationsKept(migrated)}` : text
}

/** Where a cancelled run was, as data: `cancelSentence` is its one sentence. */
export interface Cancellation {
  signal: string
  /** The operation that was cut off (unknown when the inputs were not read yet). */
  operation?: Operation
  /** Each host's phase when the signal came; `stands`: it had passed verify already. */
  where: { host: string; phase: string; stands: boolean }[]
}

/** What the action says when it is cancelled (the job's error and the summary). */
export function cancelSentence(cancellation: Cancellation): string {
  const { signal, operation = 'deploy', where } = cancellation
  const during = where
    .map(({ host, phase, stands }) =>
      stands ? `${phase} on ${host}, after its new release was verified` : `${phase} on ${host}`
    )
    .join(', ')
  const next =
    operation === 'verify'
      ? 'A verify changes nothing on the host: there is nothing to finish.'
      : 'A restart already running on a host finishes there; the post step verifies a release that was switched to but not yet verified ' +
        '(rolling it back if that fails and rollback-on-failure is true) and releases the deploy lock.'
  return `Cancelled (${signal}) during ${during || `the ${operation}`}. ${next}`
}

/** An operation on a host, as messages name it: `deploy to H`, `rollback on H`, `restart on H`. */
export function operationOn(operation: Operation, host: string): string {
  return operation === 'deploy' ? `deploy to ${host}` : `${operation} on ${host}`
}

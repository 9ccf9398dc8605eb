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
    }
  })()
  const kept = migrated && (outcome.kind !== 'by-host' || outcome.undone)
  return kept ? `${text} ${migrationsKept(migrated)}` : text
}

import type { DeployContext } from '../model/context.js'
import { runReleaseCommand } from './prepare.js'

/**
 * migrate: the migrate-command in the new release, its venv active, once prepare is done and
 * before anything stops (README, "Database migrations").
 */
export async function migrate(ctx: DeployContext, command: string): Promise<void> {
  await runReleaseCommand(
    ctx,
    'migrate-command',
    command,
    '; the database is as the command left it: a migration that stopped halfway may need a look before the next deploy'
  )
}

/** What a rollback past a release whose migrate-command ran says: the migrations stay. */
export function migrationsKept(release: string): string {
  return (
    `The database keeps the migrations that ${release}'s migrate-command ran: what serves after the rollback runs against them. ` +
    'A rollback cannot undo a migration (README, "Database migrations").'
  )
}

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

import type { DeployContext } from '../model/context.js'
import { info } from '../report/host-text.js'
import { COMMAND_SECONDS } from '../model/budgets.js'
import { strategyOf } from '../model/strategy.js'
import { envFileScript } from '../commands/env-file.js'

/**
 * One `KEY=VALUE` line of the env file, quoted so systemd's EnvironmentFile= and python-dotenv
 * read the same value: single quotes (both take what is inside literally), or, for a value that
 * holds a single quote, double quotes with `\` and `"` escaped (both undo exactly those escapes;
 * settings.ts refuses a value that also holds `${`, which python-dotenv would expand there).
 */
export function envFileLine(key: string, value: string): string {
  if (!value.includes("'")) return `${key}='${value}'`
  return `${key}="${value.replace(/[\\"]/g, char => `\\${char}`)}"`
}

/** The env file's whole text. */
export function envFileText(env: [string, string][]): string {
  return env.map(([key, value]) => `${envFileLine(key, value)}\n`).join('')
}

/** env-file: the env input as a file, before prepare-command runs (a unit's EnvironmentFile=, .env). */
export async function writeEnvFile(ctx: DeployContext, envFile: string): Promise<void> {
  const { settings, session, layout } = ctx
  const shared = settings.sharedPaths.find(
    path => envFile === path || envFile.startsWith(`${path}/`)
  )
  const dir = shared && strategyOf(settings).keepsReleases ? layout.sharedDir : ctx.releaseDir
  await session.remote.run(envFileScript(dir, envFile), {
    phase: 'prepare',
    timeoutSeconds: COMMAND_SECONDS.quick,
    stdin: Buffer.from(envFileText(settings.env))
  })
  info(
    `Wrote env-file ${dir}/${envFile} (mode 0600): ${settings.env.map(([key]) => key).join(', ') || '(empty)'}`
  )
}

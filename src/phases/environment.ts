import type { DeployContext } from '../context.js'
import { joinCode, sh, ShellCode } from '../shell.js'

/** `export` lines for DEPLOY_SHA, DEPLOY_RELEASE, DEPLOY_TARGET and the `env` input. */
export function exportEnvScript(ctx: DeployContext, releaseDir: string): ShellCode {
  const variables: [string, string][] = [
    ['DEPLOY_SHA', ctx.sha],
    ['DEPLOY_RELEASE', releaseDir],
    ['DEPLOY_TARGET', ctx.layout.target],
    ...ctx.settings.env
  ]
  // Names are validated by the settings (letters, digits, _), so they can stand as code.
  return joinCode(variables.map(([name, value]) => sh`export ${new ShellCode(name)}=${value}`))
}

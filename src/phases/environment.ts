import type { DeployContext } from '../context.js'
import { joinCode, sh, ShellCode } from '../shell.js'
import { CONTROL_MARKER } from '../remote.js'

/**
 * `export` lines for DEPLOY_SHA, DEPLOY_RELEASE, DEPLOY_TARGET and the `env` input, for a shell that
 * runs user commands next. The control marker goes, so what the user starts is never taken for one
 * of the action's own commands.
 */
export function exportEnvScript(ctx: DeployContext, releaseDir: string): ShellCode {
  const variables: [string, string][] = [
    ['DEPLOY_SHA', ctx.sha],
    ['DEPLOY_RELEASE', releaseDir],
    ['DEPLOY_TARGET', ctx.layout.target],
    ...ctx.settings.env
  ]
  // Names are validated by the settings (letters, digits, _), so they can stand as code.
  return joinCode([
    new ShellCode(`unset ${CONTROL_MARKER}`),
    ...variables.map(([name, value]) => sh`export ${new ShellCode(name)}=${value}`)
  ])
}

import type { DeployContext } from '../model/context.js'
import { environmentScript, joinCode, sh, ShellCode } from '../remote/shell.js'
import { CONTROL_MARKER } from '../remote/remote.js'

/**
 * One of the user's commands for a host script: the export lines it runs after (exportEnvScript)
 * and its text, for the host library's exec_user_command, which runs it in a /bin/sh of its own, as
 * `sh -c` would, but with the command in that shell's environment instead of its command line. So
 * nothing of the command's text stands in any process's argv: a `pkill -f` it holds can match
 * neither its own shell nor the action's.
 */
export interface UserCommand {
  environment: ShellCode
  command: string
}

/** A user command's two inputs of a host script, named `<prefix>_environment` and `<prefix>_command`. */
export function userCommandInputs(prefix: string, user: UserCommand): Record<string, string> {
  return {
    [`${prefix}_environment`]: user.environment.text,
    [`${prefix}_command`]: environmentScript(user.command)
  }
}

/** Runs a user command (the host library first): in a subshell it ends. */
export function userCommandScript(user: UserCommand): ShellCode {
  return sh`(exec_user_command ${user.environment.text} ${environmentScript(user.command)})`
}

/**
 * `export` lines for DEPLOY_SHA, DEPLOY_RELEASE, DEPLOY_TARGET, the `env` input and the managed
 * venv, for a shell that runs user commands next. The control marker goes, so what the user starts is never taken for one
 * of the action's own commands.
 */
export function exportEnvScript(ctx: DeployContext, releaseDir: string): ShellCode {
  const variables: [string, string][] = [
    ['DEPLOY_SHA', ctx.sha],
    ['DEPLOY_RELEASE', releaseDir],
    ['DEPLOY_TARGET', ctx.layout.target],
    ...ctx.settings.env
  ]
  // With a managed venv, the tree's .venv is active: its bin first on PATH, so python is its own.
  const venv =
    ctx.settings.pythonRequirements.length > 0
      ? [sh`export VIRTUAL_ENV=${`${releaseDir}/.venv`}`, sh`export PATH="$VIRTUAL_ENV/bin:$PATH"`]
      : []
  // Names are validated by the settings (letters, digits, _), so they can stand as code.
  return joinCode([
    new ShellCode(`unset ${CONTROL_MARKER}`),
    ...variables.map(([name, value]) => sh`export ${new ShellCode(name)}=${value}`),
    ...venv
  ])
}

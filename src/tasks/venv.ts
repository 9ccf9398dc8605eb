import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { DeployContext } from '../model/context.js'
import { lastLines } from '../remote/remote.js'
import { quote } from '../remote/shell.js'
import type { Settings } from '../inputs/settings.js'
import { exportEnvScript } from '../commands/environment.js'
import { info } from '../report/host-text.js'
import { PREPARE_SECONDS } from '../model/budgets.js'
import { answerOf } from '../remote/protocol.js'
import { strategyOf } from '../model/strategy.js'
import { venvScript, VENV_EXIT, venvsDir } from '../commands/venv.js'

/** The command that installs the dependencies: python-install-command, else `pip install -r` each .txt file. */
export function installCommand(settings: Settings): string {
  const lists = settings.pythonRequirements.filter(path => path.endsWith('.txt'))
  return (
    settings.pythonInstallCommand ??
    `pip install ${lists.map(path => `-r ${quote(path)}`).join(' ')}`
  )
}

/**
 * The runner's part of the venv key: the dependency files' contents and the install command. The
 * host adds the interpreter's version, so a new Python on the host gets a new venv.
 */
export function requirementsHash(settings: Settings): string {
  const hash = createHash('sha256').update(installCommand(settings))
  for (const path of settings.pythonRequirements) {
    hash.update(`\0${path}\0`)
    hash.update(readFileSync(join(settings.source, path)))
  }
  return hash.digest('hex').slice(0, 16)
}

/**
 * prepare, with python-requirements: the release's `.venv` → its venv, built in prepare while the
 * old service serves (the running service's venv is never touched), or reused as is.
 */
export async function prepareVenv(ctx: DeployContext): Promise<void> {
  const { settings, session, layout, report } = ctx
  const venvs = venvsDir(layout)
  const started = Date.now()
  const result = await session.remote.run(
    venvScript({
      python: settings.python,
      target: layout.target,
      venvs,
      hash: requirementsHash(settings),
      tree: ctx.releaseDir,
      liveLink: strategyOf(settings).venvLink(layout),
      environment: exportEnvScript(ctx, ctx.releaseDir),
      install: installCommand(settings)
    }),
    { phase: 'prepare', timeoutSeconds: PREPARE_SECONDS, echo: true, allowFailure: true }
  )
  const tail = lastLines(result.stdout, 20)
  switch (result.code) {
    case 0:
      break
    case VENV_EXIT.python:
      throw new Error(
        `python-requirements: '${settings.python}' does not run on ${ctx.label}; install Python there or set the python input:\n${lastLines(result.stderr, 10)}`
      )
    case VENV_EXIT.create:
      throw new Error(
        `python-requirements: '${settings.python} -m venv' failed on ${ctx.label} (on Debian and Ubuntu, install python3-venv). Nothing was stopped:\n${tail}`
      )
    case VENV_EXIT.install:
      throw new Error(
        `python-install-command failed: '${installCommand(settings)}' in a new venv. The half-built venv was removed and the old service still serves. Its last lines:\n${tail}`
      )
    case VENV_EXIT.foreign:
      throw new Error(
        `in-place: ${layout.target}/.venv is not one the action made; python-requirements links .venv to the release's environment in ${venvs}. Move it away (e.g. mv .venv .venv.old), then deploy again. Nothing was stopped.`
      )
    default:
      throw new Error(
        `setting up the venv failed (exit ${result.code}): ${lastLines(result.stderr || result.stdout, 20)}`
      )
  }
  const [, key, how] = /^(\S+) (built|reused)$/.exec(answerOf(result.stdout, 'venv') ?? '') ?? []
  report.venvReused = how === 'reused'
  info(
    how === 'reused'
      ? `Reused the venv ${venvs}/${key}: the dependency files, install command and Python are unchanged`
      : `Built the venv ${venvs}/${key} in ${((Date.now() - started) / 1000).toFixed(1)} s`
  )
}

import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { DeployContext } from '../model/context.js'
import { insideTarget, type RemoteLayout } from '../remote/layout.js'
import { lastLines } from '../remote/remote.js'
import VENV_SCRIPT from '../host/venv.sh'
import { joinCode, quote, sh, withInputs, type ShellCode } from '../remote/shell.js'
import type { Settings } from '../inputs/settings.js'
import { exportEnvScript, userCommandScript } from './environment.js'
import { info } from '../report/host-text.js'
import { PREPARE_SECONDS } from '../model/budgets.js'
import { answerOf } from '../remote/protocol.js'
import { strategyOf } from '../model/strategy.js'

/** Where the managed virtualenvs live: one per key, shared by every release that has that key. */
export const venvsDir = (layout: RemoteLayout): string => `${layout.deployDir}/venvs`

/** In a venv, written last: only a venv holding it was built completely. */
const COMPLETE = '.complete'

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

/** Exit codes of the venv script, each with its own message. */
export const VENV_EXIT = { python: 10, create: 11, install: 12, foreign: 13 } as const

/**
 * Builds the venv for `hash` plus the host's interpreter version, or reuses it, and links
 * `<tree>/.venv` to it (venv.sh). The install, with its environment, is the function
 * `install_command` the file calls.
 */
export function venvScript(options: {
  python: string
  target: string
  venvs: string
  hash: string
  tree: string
  /** In place: the live `.venv` that the new link will replace (must be one of ours). */
  liveLink?: string
  environment: ShellCode
  install: string
}): ShellCode {
  const { python, target, venvs, hash, tree, liveLink, environment, install } = options
  const here = (path: string) => insideTarget(target, path)
  return joinCode([
    sh`install_command() {
${environment}
${userCommandScript(install)}
}`,
    withInputs(VENV_SCRIPT, {
      venv_target: target,
      venv_python: python,
      venv_dir: venvs,
      venv_dir_here: here(venvs),
      venv_complete: COMPLETE,
      venv_hash: hash,
      venv_tree: tree,
      venv_link_here: here(`${tree}/.venv`),
      venv_live: liveLink ?? '',
      venv_live_here: liveLink ? here(liveLink) : '',
      venv_exit_python: VENV_EXIT.python,
      venv_exit_create: VENV_EXIT.create,
      venv_exit_install: VENV_EXIT.install,
      venv_exit_foreign: VENV_EXIT.foreign
    })
  ])
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

import * as core from '@actions/core'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { DeployContext } from '../context.js'
import { insideTarget, type RemoteLayout } from '../layout.js'
import { lastLines } from '../remote.js'
import { quote, sh, type ShellCode } from '../shell.js'
import type { Settings } from '../settings.js'
import { exportEnvScript, userCommandScript } from './environment.js'

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
 * `<tree>/.venv` to it. The venv is built at its final path, because a venv records that path in
 * its scripts (`bin/pip`, console scripts, `activate`): one renamed after the build would point
 * into the temporary name. Only a venv holding COMPLETE counts; a failed build is deleted, so a
 * failure leaves nothing in `venvs/`. Prints `venv KEY built|reused`.
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
  // Commands run from the target and name its files relative to it (a path in a command line is
  // what a user's `pkill -f PATH` matches); links and messages hold the absolute paths.
  const here = (path: string) => insideTarget(target, path)
  const foreign = liveLink
    ? sh`if { [ -e ${here(liveLink)} ] || [ -L ${here(liveLink)} ]; } && case $(readlink -- ${here(liveLink)} 2>/dev/null) in ${venvs}/*) false ;; *) true ;; esac; then
  printf '%s exists and is not a link into %s\n' ${liveLink} ${venvs}; exit ${VENV_EXIT.foreign}
fi`
    : sh`:`
  const link = here(`${tree}/.venv`)
  // The install runs with the tree's .venv already linked, so it sees the environment start will.
  return sh`cd -- ${target} || exit 1
${foreign}
# -I -S: no site import, so asking the version costs the interpreter's bare start-up only.
version=$(${python} -I -S -c 'import sys; print(sys.implementation.name + "-%d.%d.%d" % sys.version_info[:3])' < /dev/null) || exit ${VENV_EXIT.python}
key=${hash}-$version
venv=${venvs}/$key
if [ -f "$venv"/${COMPLETE} ]; then how=reused; else
  how=built
  mkdir -p -- ${here(venvs)} || exit 1
  # Made by its name from inside venvs/: Python records the absolute path in the venv itself.
  if ! (cd -- ${here(venvs)} && rm -rf -- "$key" && ${python} -m venv -- "$key") < /dev/null 2>&1; then
    (cd -- ${here(venvs)} && rm -rf -- "$key"); exit ${VENV_EXIT.create}
  fi
fi
rm -rf -- ${link} && ln -s -- "$venv" ${link} || exit 1
if [ "$how" = built ]; then
  if ! (cd -- ${tree} || exit 1
    ${environment}
    ${userCommandScript(install)} < /dev/null 2>&1); then
    rm -rf -- ${here(venvs)}/"$key" ${link}; exit ${VENV_EXIT.install}
  fi
  : > "$venv"/${COMPLETE} || exit 1
fi
printf 'venv %s %s\n' "$key" "$how"`
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
      liveLink: settings.strategy === 'in-place' ? `${layout.target}/.venv` : undefined,
      environment: exportEnvScript(ctx, ctx.releaseDir),
      install: installCommand(settings)
    }),
    { phase: 'prepare', timeoutSeconds: 3600, echo: true, allowFailure: true }
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
  const [, key, how] = /^venv (\S+) (built|reused)$/m.exec(result.stdout) ?? []
  report.venvReused = how === 'reused'
  core.info(
    how === 'reused'
      ? `Reused the venv ${venvs}/${key}: the dependency files, install command and Python are unchanged`
      : `Built the venv ${venvs}/${key} in ${((Date.now() - started) / 1000).toFixed(1)} s`
  )
}

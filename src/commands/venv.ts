import { insideTarget, type RemoteLayout } from '../remote/layout.js'
import VENV_SCRIPT from '../host/prepare/venv.sh'
import { joinCode, withInputs, type ShellCode } from '../remote/shell.js'
import { userCommandInputs } from './environment.js'
import { hostLibrary } from '../remote/host-library.js'

/** Where the managed virtualenvs live: one per key, shared by every release that has that key. */
export const venvsDir = (layout: RemoteLayout): string => `${layout.deployDir}/venvs`

/** In a venv, written last: only a venv holding it was built completely. */
const COMPLETE = '.complete'

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
    hostLibrary(),
    withInputs(VENV_SCRIPT, {
      ...userCommandInputs('venv_install', { environment, command: install }),
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

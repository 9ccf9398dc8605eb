import { sh, type ShellCode } from './shell.js'

/**
 * A file in each new release until it is verified serving, so a release that was only uploaded
 * (a failed prepare, a cancelled run) is told apart from one that ran.
 */
export const UNVERIFIED_MARK = 'UNVERIFIED'

/** Where everything lives on the host (README, "What lands on the host"). */
export interface RemoteLayout {
  target: string
  current: string
  releasesDir: string
  sharedDir: string
  deployDir: string
  lockDir: string
  stateFile: string
  releasesLog: string
  startLog: string
  /** Output of the host step that restarts the service (see host-step.ts). */
  restartLog: string
  /** One line per fact of each deploy: armed, started, confirmed, undone, released (watchdog.ts). */
  journal: string
}

export function remoteLayout(target: string, startLog?: string): RemoteLayout {
  const deployDir = `${target}/.deploy`
  return {
    target,
    current: `${target}/current`,
    releasesDir: `${target}/releases`,
    sharedDir: `${target}/shared`,
    deployDir,
    lockDir: `${deployDir}/lock`,
    stateFile: `${deployDir}/state.json`,
    releasesLog: `${deployDir}/releases.log`,
    restartLog: `${deployDir}/restart.log`,
    journal: `${deployDir}/journal`,
    startLog: startLog ?? `${deployDir}/service.log`
  }
}

/** The directory holding `path` (`/` for a top-level one). */
export const parentOf = (path: string): string => path.slice(0, path.lastIndexOf('/')) || '/'

/** A relative path's directories (`a/b`, empty for none) and its last name, for enter_dirs (library.sh). */
export function dirsAndName(path: string): { dirs: string; name: string } {
  const at = path.lastIndexOf('/')
  return { dirs: at < 0 ? '' : path.slice(0, at), name: path.slice(at + 1) }
}

/** `path` relative to the target when it lies inside it (`./…`, or `.` for the target itself). */
export function insideTarget(target: string, path: string): string {
  if (path === target) return '.'
  return path.startsWith(`${target}/`) ? `.${path.slice(target.length)}` : path
}

/**
 * The same places relative to the target, for the restart step, which runs from there: a path in
 * a command's argv is what a user's `pkill -f /srv/app` matches, and the step runs beside the
 * user's stop- and start-command. `target` stays absolute, for `cd`, the environment and messages.
 */
export function relativeToTarget(layout: RemoteLayout): RemoteLayout {
  const relative = Object.fromEntries(
    Object.entries(layout).map(([key, path]) => [key, insideTarget(layout.target, path)])
  )
  return { ...relative, target: layout.target } as RemoteLayout
}

/**
 * `cd` into the target, creating it (and missing parents) from its nearest existing parent, so no
 * command line holds the whole path. Scripts that run after it name the target's files relative
 * to it (relativeToTarget).
 */
export function enterTargetScript(target: string): ShellCode {
  return sh`dir=${target}; rest=
while [ ! -d "$dir" ]; do rest=\${dir##*/}\${rest:+/$rest}; dir=\${dir%/*}; [ -n "$dir" ] || dir=/; done
cd -- "$dir" && { [ -z "$rest" ] || mkdir -p -- "$rest"; } && cd -- ${target} || exit 1`
}

/** Where first-answer.py writes when the new service first answered, inside the target. */
export const FIRST_ANSWER_FILE = '.deploy/first-answer'

/** `20261124T101500Z-1a2b3c4`: sorts by time, names the commit. */
export function releaseName(time: Date, sha: string): string {
  const stamp = time
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')
  return `${stamp}-${sha.slice(0, 7)}`
}

/** Replaces a leading `~/` with the remote home directory. */
export function expandHome(path: string, home: string): string {
  return path.startsWith('~/') ? `${home.replace(/\/+$/, '')}/${path.slice(2)}` : path
}

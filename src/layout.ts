/**
 * A file in each new release until it is verified serving, so a release that was only uploaded
 * (a failed prepare, a cancelled run) is told apart from one that ran.
 */
export const UNVERIFIED_MARK = 'UNVERIFIED'

/** Where everything lives on the host (DESIGN.md, "Remote layout"). */
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
    startLog: startLog ?? `${deployDir}/service.log`
  }
}

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

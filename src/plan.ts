import { releaseName, remoteLayout } from './layout.js'
import type { Settings } from './settings.js'
import { ALWAYS_EXCLUDED } from './source-tree.js'

const orNone = (value: string | undefined): string => value ?? '(none)'

/** The phases a deploy to one host would run, with the settings each uses; printed on dry runs. */
export function describePlan(
  settings: Settings,
  host: { label: string; target: string; startLog?: string },
  sha: string,
  now: Date
): string[] {
  const layout = remoteLayout(host.target, host.startLog)
  const release = releaseName(now, sha)
  const releases = settings.strategy === 'releases'
  const releaseDir = releases ? `${layout.releasesDir}/${release}` : `${layout.deployDir}/staging`
  const stop = [
    settings.stopCommand ? `run '${settings.stopCommand}', then` : '',
    `SIGTERM processes carrying DEPLOY_TARGET=${host.target} and those recorded in ${layout.stateFile}`,
    settings.processMatch ? `and processes matching '${settings.processMatch}'` : ''
  ]
  const steps: [string, string][] = [
    ['connect', `${host.label}, tools checked`],
    ['lock', `${layout.lockDir} (wait up to ${settings.lockTimeoutSeconds} s)`],
    [
      'upload',
      `${settings.source} -> ${releaseDir} (tar stream, changed files only; excluding ${[...ALWAYS_EXCLUDED, ...settings.exclude].join(', ')})`
    ],
    [
      'prepare',
      `${settings.stampFile}=${sha}; shared paths: ${settings.sharedPaths.join(', ') || '(none)'}; ` +
        `clear pycache: ${settings.clearPycache}; prepare-command: ${orNone(settings.prepareCommand)}; ` +
        `import check: ${orNone(settings.pythonImportCheck)}`
    ],
    ['stop', stop.join(' ').trim()],
    [
      'wait-for-exit',
      `up to ${settings.stopTimeoutSeconds} s; ports free: ${settings.ports.join(', ') || '(none)'}` +
        (settings.killAfterTimeout ? '; then SIGKILL' : '')
    ],
    [
      'switch',
      releases ? `${layout.current} -> releases/${release}` : `sync into ${layout.target}`
    ],
    [
      'start',
      `'${settings.startCommand}'` +
        (settings.detach ? ` detached, output to ${layout.startLog}` : ' in the foreground')
    ],
    [
      'verify',
      `${settings.versionUrl.href} from the ${settings.versionCheckFrom} reports ${sha.slice(0, 12)}` +
        ` (within ${settings.versionTimeoutSeconds} s, stable for ${settings.stableForSeconds} s)`
    ],
    [
      'rollback',
      releases && settings.rollbackOnFailure ? 'to the previous good release on failure' : 'off'
    ],
    ['prune', releases ? `keep ${settings.keepReleases} releases` : 'nothing to prune (in-place)']
  ]
  const width = Math.max(...steps.map(([name]) => name.length))
  return steps.map(
    ([name, what], index) => `${String(index + 1).padStart(2)}. ${name.padEnd(width)}  ${what}`
  )
}

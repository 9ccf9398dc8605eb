import { releaseName, type RemoteLayout } from '../remote/layout.js'
import type { HostSession } from '../remote/host-session.js'
import type { HostReport } from '../report/report.js'
import type { Settings } from '../inputs/settings.js'
import { strategyOf } from './strategy.js'

/** Everything the phases of one host's deploy share. */
export interface DeployContext {
  settings: Settings
  sha: string
  label: string
  session: HostSession
  layout: RemoteLayout
  report: HostReport
  /** Name of the release being deployed (`<UTC time>-<sha7>`). */
  release: string
  /** Where the new tree is built: `releases/<release>` or, in place, `.deploy/staging`. */
  releaseDir: string
  /** The release that was live before this deploy (strategy releases). */
  previousRelease?: string
  previousSha?: string
  /** Releases on the host before this deploy, as upload found them. */
  existingReleases: string[]
  /** Link to the workflow run, recorded in the lock and releases.log. */
  run: string
  /** The token in the deploy lock's owner: the restart only runs while the lock still holds it. */
  lockToken: string
}

/** The context of a deploy about to upload: a new release named for `now` and the commit. */
export function newDeployContext(
  fields: Pick<
    DeployContext,
    'settings' | 'sha' | 'label' | 'session' | 'layout' | 'report' | 'run' | 'lockToken'
  >,
  now = new Date()
): DeployContext {
  const release = releaseName(now, fields.sha)
  return {
    ...fields,
    release,
    releaseDir: strategyOf(fields.settings).buildDir(fields.layout, release),
    existingReleases: []
  }
}

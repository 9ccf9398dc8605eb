import type { RemoteLayout } from '../remote/layout.js'
import type { Settings } from '../inputs/settings.js'

/**
 * Where a strategy puts the trees on the host (README, "What lands on the host"): the one place
 * `releases` and `in-place` differ in where things are; the phases follow from it.
 */
export interface Strategy {
  readonly name: Settings['strategy']
  /**
   * Each deploy is a release kept beside the others, `current` naming the live one: what rollback,
   * prune, discard, the watchdog and shared-path links need. In place there is one tree.
   */
  readonly keepsReleases: boolean
  /** Where a deploy builds the tree of `release`: the release's directory, or a staging copy. */
  buildDir(layout: RemoteLayout, release: string): string
  /** Where the tree of a release already on the host is (rollback, restart, verify, the post step). */
  keptDir(layout: RemoteLayout, release: string): string
  /** The directory the service runs from: `current`, or the target itself. */
  liveDir(layout: RemoteLayout): string
  /** Where the live tree's `.venv` link is, when it is not in the release's own tree. */
  venvLink(layout: RemoteLayout): string | undefined
}

const RELEASES: Strategy = {
  name: 'releases',
  keepsReleases: true,
  buildDir: (layout, release) => `${layout.releasesDir}/${release}`,
  keptDir: (layout, release) => `${layout.releasesDir}/${release}`,
  liveDir: layout => layout.current,
  venvLink: () => undefined
}

const IN_PLACE: Strategy = {
  name: 'in-place',
  keepsReleases: false,
  // Built beside the live tree, then synced into it by the restart's switch.
  buildDir: layout => `${layout.deployDir}/staging`,
  keptDir: layout => layout.target,
  liveDir: layout => layout.target,
  venvLink: layout => `${layout.target}/.venv`
}

/** The strategy the `strategy` input names. */
export function strategyOf(settings: Pick<Settings, 'strategy'>): Strategy {
  return settings.strategy === 'releases' ? RELEASES : IN_PLACE
}

import RELEASES_SCRIPT from '../host/rollback/releases.sh'
import { UNVERIFIED_MARK } from '../remote/layout.js'
import type { Settings } from '../inputs/settings.js'
import { withInputs, type ShellCode } from '../remote/shell.js'
import { answerOf, answersOf } from '../remote/protocol.js'

/** One kept release, as releases.sh found it. */
export interface KeptRelease {
  name: string
  /** verified: passed verify; unverified: never did; bad: marked BAD_RELEASE after a failure. */
  state: 'verified' | 'unverified' | 'bad'
  /** The commit in its stamp file (empty: none). */
  sha: string
}

/** The host's releases: what is live, what is kept (oldest first), who holds the lock. */
export interface HostReleases {
  live?: string
  releases: KeptRelease[]
  /** The lock owner's line while a deploy holds the lock. */
  lock?: string
}

export function releasesScript(settings: Settings, target: string): ShellCode {
  return withInputs(RELEASES_SCRIPT, {
    rel_target: target,
    rel_stamp: settings.stampFile,
    rel_strategy: settings.strategy,
    rel_unverified: UNVERIFIED_MARK
  })
}

export function parseReleases(stdout: string): HostReleases {
  const releases = answersOf(stdout, 'release').flatMap(line => {
    const [, name, state, sha] = /^(\S+) (verified|unverified|bad) ?(\S*)$/.exec(line) ?? []
    return name ? [{ name, state: state as KeptRelease['state'], sha: sha.toLowerCase() }] : []
  })
  return { live: answerOf(stdout, 'live') || undefined, releases, lock: answerOf(stdout, 'lock') }
}

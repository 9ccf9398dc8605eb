import type { KeptRelease, HostReleases } from '../commands/releases.js'

/** In words, for a message: `NAME (sha7, state)`. */
function describe(release: KeptRelease): string {
  return `${release.name} (${release.sha.slice(0, 7) || 'no stamp'}, ${release.state === 'bad' ? 'BAD_RELEASE' : release.state})`
}

/**
 * What `operation: rollback` makes live (DESIGN, "Operations"): with no `rollback-to`, the newest
 * release that passed verify and is older than the live one; else the kept release of that name,
 * or the newest verified one whose commit starts with that prefix (7 hex characters or more). A
 * release that never passed verify, or is marked BAD_RELEASE, is taken only when named by its full
 * name. Throws with what is kept when nothing fits: nothing on the host has changed then.
 */
export function chooseRollback(host: HostReleases, rollbackTo: string | undefined): KeptRelease {
  const kept = host.releases.map(describe).join(', ') || '(none)'
  const live = host.releases.find(release => release.name === host.live)
  let chosen: KeptRelease | undefined
  if (!rollbackTo) {
    if (!host.live) throw new Error(`nothing is live on the host to roll back from; kept: ${kept}`)
    chosen = [...host.releases]
      .reverse()
      .find(release => release.name < (host.live as string) && release.state === 'verified')
    if (!chosen)
      throw new Error(
        `no release older than the live one (${live ? describe(live) : host.live}) passed verify, so there is nothing to roll back to; kept: ${kept}. Name one with rollback-to to choose it anyway`
      )
  } else {
    chosen = host.releases.find(release => release.name === rollbackTo)
    if (!chosen) {
      const prefix = rollbackTo.toLowerCase()
      const matches = (release: KeptRelease) =>
        /^[0-9a-f]{7,40}$/.test(prefix) && release.sha.startsWith(prefix)
      if (live && matches(live) && !host.releases.some(r => r !== live && matches(r)))
        throw new Error(`${describe(live)} is already live: there is nothing to roll back`)
      const matching = host.releases.filter(release => release !== live && matches(release))
      chosen = [...matching].reverse().find(release => release.state === 'verified')
      if (!chosen && matching.length > 0)
        throw new Error(
          `rollback-to '${rollbackTo}' matches only ${matching.map(describe).join(', ')}, which never passed verify or failed since: name the release by its full name to roll back to it anyway`
        )
      if (!chosen)
        throw new Error(
          `rollback-to '${rollbackTo}' names no kept release (by name, or by a commit prefix of 7 or more hex characters); kept: ${kept}`
        )
    }
  }
  if (chosen.name === host.live)
    throw new Error(`${describe(chosen)} is already live: there is nothing to roll back`)
  if (!chosen.sha)
    throw new Error(
      `${chosen.name} has no stamp file, so its commit cannot be verified; kept: ${kept}`
    )
  return chosen
}

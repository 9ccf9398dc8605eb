/**
 * The two strategies (strategy.ts) behind one interface: where each builds, keeps and runs a tree.
 */
import { describe, expect, it } from '@jest/globals'
import { remoteLayout } from '../../src/remote/layout.js'
import { strategyOf } from '../../src/model/strategy.js'

const layout = remoteLayout('/srv/app')
const RELEASE = '20261206T000000Z-0123456'

describe('strategies', () => {
  it('releases: each deploy a kept release, current naming the live one', () => {
    const releases = strategyOf({ strategy: 'releases' })
    expect(releases.keepsReleases).toBe(true)
    expect(releases.buildDir(layout, RELEASE)).toBe(`/srv/app/releases/${RELEASE}`)
    expect(releases.keptDir(layout, RELEASE)).toBe(`/srv/app/releases/${RELEASE}`)
    expect(releases.liveDir(layout)).toBe('/srv/app/current')
    expect(releases.venvLink(layout)).toBeUndefined()
  })

  it('in-place: one tree, built in staging and synced into the target', () => {
    const inPlace = strategyOf({ strategy: 'in-place' })
    expect(inPlace.keepsReleases).toBe(false)
    expect(inPlace.buildDir(layout, RELEASE)).toBe('/srv/app/.deploy/staging')
    expect(inPlace.keptDir(layout, 'tree')).toBe('/srv/app')
    expect(inPlace.liveDir(layout)).toBe('/srv/app')
    expect(inPlace.venvLink(layout)).toBe('/srv/app/.venv')
  })
})

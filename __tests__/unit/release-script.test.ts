/**
 * scripts/release.sh, which the release workflow runs: against a real git repository with a bare
 * one as its origin, it tags vX.Y.Z, moves the major tag, and refuses what would make a bad release.
 */
import { describe, expect, it } from '@jest/globals'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PROJECT_ROOT } from '../support/action.js'

const SCRIPT = join(PROJECT_ROOT, 'scripts/release.sh')

const git = (dir: string, ...args: string[]) =>
  execFileSync('git', ['-C', dir, '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], {
    encoding: 'utf8'
  }).trim()

/** A clone whose origin is a bare repository, with one commit of a releasable tree at `version`. */
function repository(
  version: string,
  changelog = `## [${version}] - 2026-12-02\n\n- Added things.\n`
) {
  const dir = mkdtempSync(join(tmpdir(), 'vsd-release-'))
  execFileSync('git', ['init', '-q', '--bare', join(dir, 'origin.git')])
  execFileSync('git', ['clone', '-q', join(dir, 'origin.git'), join(dir, 'work')], {
    stdio: 'ignore'
  })
  const work = join(dir, 'work')
  commit(work, version, changelog)
  return { work, origin: join(dir, 'origin.git') }
}

function commit(work: string, version: string, changelog: string): string {
  writeFileSync(
    join(work, 'package.json'),
    `{\n  "name": "x",\n  "version": "${version}",\n  "private": true\n}\n`
  )
  writeFileSync(
    join(work, 'CHANGELOG.md'),
    `# Changelog\n\n## [Unreleased]\n\n${changelog}\n## [0.0.1] - 2026-01-01\n\n- First.\n`
  )
  execFileSync('mkdir', ['-p', join(work, 'dist')])
  writeFileSync(join(work, 'dist/index.js'), `// ${version}\n`)
  git(work, 'add', '-A')
  git(work, 'commit', '-q', '-m', version)
  git(work, 'push', '-q', 'origin', 'HEAD')
  return git(work, 'rev-parse', 'HEAD')
}

const release = (work: string, version: string) =>
  spawnSync('sh', [SCRIPT, version], { cwd: work, encoding: 'utf8' })

/** tag → the commit it points to, on the origin. */
function remoteTags(origin: string): Record<string, string> {
  const listed = execFileSync('git', ['ls-remote', '--tags', origin], { encoding: 'utf8' })
  return Object.fromEntries(
    [...listed.matchAll(/^([0-9a-f]{40})\s+refs\/tags\/(v[\d.]+)\^\{\}$/gm)].map(([, sha, tag]) => [
      tag,
      sha
    ])
  )
}

describe('scripts/release.sh', () => {
  it('tags vX.Y.Z and moves vX to it, then moves vX again for the next release; prints the notes', () => {
    const { work, origin } = repository('1.2.0')
    const first = git(work, 'rev-parse', 'HEAD')
    const released = release(work, '1.2.0')
    expect(released.stderr).toContain(`Released v1.2.0 (${first}); v1 points to it`)
    expect(released.status).toBe(0)
    expect(released.stdout.trim()).toBe('- Added things.')
    expect(remoteTags(origin)).toEqual({ 'v1.2.0': first, v1: first })

    const second = commit(work, '1.3.0', '## [1.3.0] - 2026-12-03\n\n- More.\n')
    expect(release(work, 'v1.3.0').status).toBe(0)
    expect(remoteTags(origin)).toEqual({ 'v1.2.0': first, 'v1.3.0': second, v1: second })
  })

  it('refuses dist/ that is not the build, a version package.json does not say, no CHANGELOG section, or a bad version', () => {
    const { work, origin } = repository('2.0.0')
    writeFileSync(join(work, 'dist/index.js'), '// edited by hand\n')
    expect(release(work, '2.0.0').stderr).toContain('release: dist/ differs from a fresh build')
    git(work, 'checkout', '--', 'dist')
    expect(release(work, '2.0.1').stderr).toContain('package.json says version 2.0.0, not 2.0.1')
    const { work: unlisted } = repository('2.1.0', '## [2.0.9] - 2026-12-02\n\n- Other.\n')
    expect(release(unlisted, '2.1.0').stderr).toContain("CHANGELOG.md has no '## [2.1.0]' section")
    const result = release(work, '2.0')
    expect(result.status).toBe(1)
    expect(result.stderr).toContain("release: '2.0' is not a version: give X.Y.Z")
    expect(remoteTags(origin)).toEqual({})
  })

  it('never moves a release tag, nor the major tag backwards past a newer release', () => {
    const { work, origin } = repository('3.1.0')
    expect(release(work, '3.1.0').status).toBe(0)
    expect(release(work, '3.1.0').stderr).toMatch(
      /release: v3\.1\.0 exists already \(on [0-9a-f]{40}\)/
    )
    commit(work, '3.0.5', '## [3.0.5] - 2026-12-04\n\n- A fix for the old line.\n')
    expect(release(work, '3.0.5').stderr).toContain(
      'v3.1.0 is newer than v3.0.5: v3 stays where it is'
    )
    expect(Object.keys(remoteTags(origin)).sort()).toEqual(['v3', 'v3.1.0'])
  })
})

describe('scripts/publish-draft.sh', () => {
  it('creates the release as a draft, never the major tag, and says what to click', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vsd-gh-'))
    // A gh that records its arguments, as the CLI would receive them.
    writeFileSync(join(dir, 'gh'), `#!/bin/sh\nprintf '%s\\n' "$@" > "${dir}/args"\n`, {
      mode: 0o755
    })
    const run = spawnSync(
      'sh',
      [join(PROJECT_ROOT, 'scripts/publish-draft.sh'), '1.4.2', 'notes.md'],
      {
        encoding: 'utf8',
        env: {
          ...process.env,
          PATH: `${dir}:${process.env.PATH}`,
          GITHUB_REPOSITORY: 'acme/deploy'
        }
      }
    )
    expect(run.status).toBe(0)
    expect(execFileSync('cat', [join(dir, 'args')], { encoding: 'utf8' }).split('\n')).toEqual([
      'release',
      'create',
      'v1.4.2',
      '--draft',
      '--title',
      'v1.4.2',
      '--notes-file',
      'notes.md',
      '--verify-tag',
      ''
    ])
    expect(run.stdout).toContain(
      'open https://github.com/acme/deploy/releases and edit the draft v1.4.2'
    )
    expect(run.stdout).toContain('tick "Publish this Action to the GitHub Marketplace"')
    expect(run.stdout).toContain('v1 stays a plain tag')
  })
})

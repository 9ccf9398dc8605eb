import { describe, expect, it } from '@jest/globals'
import {
  statSync,
  existsSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  appendFileSync,
  mkdirSync,
  mkdtempSync,
  symlinkSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { currentRelease, deploy, deployInputs, failureMessage, useSshd } from '../support/deploy.js'
import { sha } from '../support/service.js'
import { type TestSshd } from '../support/sshd.js'
import {
  isUnder,
  richSourceTree,
  RICH_TREE_EXCLUDE_INPUT,
  RICH_TREE_EXCLUDED,
  treeDigest,
  write
} from '../support/tree.js'

let sshd: TestSshd
useSshd(started => (sshd = started))

/** Adds, edits, deletes and renames files: three files change content or name. */
function changeTree(source: string): void {
  write(source, 'pkg/added.py', 'ADDED = True\n')
  appendFileSync(join(source, 'app.py'), 'print("edited")\n')
  rmSync(join(source, 'pkg/module with space.py'))
  renameSync(join(source, 'pkg/ünïcødé.py'), join(source, 'pkg/renamed.py'))
  rmSync(join(source, 'empty/nested'), { recursive: true })
}

const sourceDigest = (source: string) => treeDigest(source, isUnder(RICH_TREE_EXCLUDED))

describe('strategy releases', () => {
  it('builds each release equal to the source minus excludes, sending only changed files the second time', async () => {
    const source = richSourceTree()
    const target = join(sshd.dir, 'releases-app')
    const inputs = await deployInputs(sshd, source, target, { exclude: RICH_TREE_EXCLUDE_INPUT })

    const first = await deploy(inputs)
    const firstRelease = first.outputs.release
    expect(firstRelease).toMatch(/^\d{8}T\d{6}Z-0123456$/)
    expect(currentRelease(target)).toBe(`releases/${firstRelease}`)
    const firstDir = join(target, 'releases', firstRelease)
    expect(treeDigest(firstDir, path => path === 'REVISION')).toEqual(sourceDigest(source))
    expect(readFileSync(join(firstDir, 'REVISION'), 'utf8')).toBe(`${inputs.sha}\n`)
    expect(Number(first.outputs['uploaded-files'])).toBe(
      Object.values(sourceDigest(source)).filter(d => d.startsWith('file')).length
    )
    expect(first.outputs['previous-release']).toBe('')

    changeTree(source)
    const second = await deploy(inputs)
    const secondDir = join(target, 'releases', second.outputs.release)
    expect(second.outputs.release).not.toBe(firstRelease)
    expect(treeDigest(secondDir, path => path === 'REVISION')).toEqual(sourceDigest(source))
    expect(second.outputs['uploaded-files']).toBe('3')
    const changedBytes = ['pkg/added.py', 'app.py', 'pkg/renamed.py'].reduce(
      (sum, path) => sum + statSync(join(source, path)).size,
      0
    )
    expect(second.outputs['uploaded-bytes']).toBe(String(changedBytes))
    expect(second.outputs['previous-release']).toBe(firstRelease)
    expect(second.outputs['previous-sha']).toBe(inputs.sha)
    expect(second.stdout).toContain(`copied 8 unchanged file(s) from ${firstRelease}`)
    expect(currentRelease(target)).toBe(`releases/${second.outputs.release}`)
    // The previous release is an independent copy, untouched by the new one.
    expect(existsSync(join(firstDir, 'pkg/module with space.py'))).toBe(true)
    const log = readFileSync(join(target, '.deploy/releases.log'), 'utf8')
      .trim()
      .split('\n')
      .map(line => JSON.parse(line))
    expect(log.map(entry => [entry.release, entry.previous_release])).toEqual([
      [firstRelease, null],
      [second.outputs.release, firstRelease]
    ])
    expect(existsSync(join(target, '.deploy/lock'))).toBe(false)
  })

  it('links shared paths, seeding them once and never overwriting them', async () => {
    const source = richSourceTree()
    write(source, 'config/.env', 'SEED=1\n')
    const target = join(sshd.dir, 'shared-app')
    const inputs = await deployInputs(sshd, source, target, {
      'shared-paths': 'config/.env\nvar/uploads/'
    })
    await deploy(inputs)
    writeFileSync(join(target, 'shared/var/uploads/user.png'), 'upload')
    write(source, 'config/.env', 'SEED=2\n')
    const second = await deploy(inputs)
    const release = join(target, 'releases', second.outputs.release)
    expect(readFileSync(join(release, 'config/.env'), 'utf8')).toBe('SEED=1\n')
    expect(readFileSync(join(target, 'current/var/uploads/user.png'), 'utf8')).toBe('upload')
    expect(treeDigest(release)['var/uploads']).toBe(`link -> ${join(target, 'shared/var/uploads')}`)
  })

  it('keeps keep-releases releases and never the live one', async () => {
    const source = richSourceTree()
    const target = join(sshd.dir, 'prune-app')
    const inputs = await deployInputs(sshd, source, target, { 'keep-releases': '2' })
    const runs = []
    for (let n = 0; n < 3; n++) {
      write(source, 'app.py', `print(${n})\n`)
      runs.push(await deploy(inputs))
    }
    const names = runs.map(run => run.outputs.release)
    expect(readdirSync(join(target, 'releases')).sort()).toEqual(names.slice(1).sort())
    expect(readdirSync(join(target, '.deploy/manifests')).sort()).toEqual(
      names
        .slice(1)
        .map(name => `${name}.tsv`)
        .sort()
    )
    expect(currentRelease(target)).toBe(`releases/${names[2]}`)
  })
})

describe('strategy in-place', () => {
  it('syncs the live tree to the source, removing only what an earlier deploy shipped; excluded, shared and host-owned paths stay', async () => {
    const source = richSourceTree()
    const target = join(sshd.dir, 'in-place-app')
    write(target, 'server.log', 'keep me\n')
    write(target, 'uploads/user.png', 'upload')
    sshd.handOver(target)
    const inputs = await deployInputs(sshd, source, target, {
      strategy: 'in-place',
      exclude: RICH_TREE_EXCLUDE_INPUT,
      'shared-paths': 'uploads'
    })
    const keptByHost = isUnder(['.deploy', 'REVISION', 'server.log', 'uploads'])
    await deploy(inputs)
    expect(treeDigest(target, keptByHost)).toEqual(sourceDigest(source))
    expect(readFileSync(join(target, 'REVISION'), 'utf8')).toBe(`${inputs.sha}\n`)

    changeTree(source)
    mkdirSync(join(target, 'pkg/__pycache__'), { recursive: true })
    sshd.handOver(target)
    const second = await deploy(inputs)
    expect(second.outputs['uploaded-files']).toBe('3')
    expect(treeDigest(target, keptByHost)).toEqual(sourceDigest(source))
    expect(readFileSync(join(target, 'server.log'), 'utf8')).toBe('keep me\n')
    expect(readFileSync(join(target, 'uploads/user.png'), 'utf8')).toBe('upload')
    expect(existsSync(join(target, 'pkg/module with space.py'))).toBe(false)
    expect(existsSync(join(target, 'empty/nested'))).toBe(false)
    expect(existsSync(join(target, 'pkg/__pycache__'))).toBe(false)
  })

  it('a first deploy into a directory that already holds data deletes none of it, and lists it once as not ours', async () => {
    const source = richSourceTree()
    const target = join(sshd.dir, 'in-place-home')
    const hostOwned: Record<string, string> = {
      'data/users.db': 'users',
      '.env': 'SECRET=1\n',
      '.venv/bin/python': 'not a real python',
      '.ssh/authorized_keys': 'ssh-ed25519 AAAA key\n',
      'stale.py': 'old code\n',
      'pkg/notes.txt': 'written by hand on the host\n'
    }
    for (const [path, text] of Object.entries(hostOwned)) write(target, path, text)
    sshd.handOver(target)
    const inputs = await deployInputs(sshd, source, target, { strategy: 'in-place' })
    const first = await deploy(inputs)
    expect(first.stdout).toMatch(
      /^Not ours, kept: 6 path\(s\) in \S+ that the source does not have and no deploy shipped: \.env, \.ssh\/, \.venv\/, data\/users\.db, pkg\/notes\.txt, stale\.py$/m
    )
    // The source drops a file it shipped and the directory around a host-owned one.
    rmSync(join(source, 'pkg'), { recursive: true })
    const second = await deploy({ ...inputs, sha: sha('2') })
    expect(second.stdout).toMatch(
      /^Synced the new tree into \S+; removed \d+ path\(s\) an earlier deploy shipped/m
    )
    for (const [path, text] of Object.entries(hostOwned))
      expect(readFileSync(join(target, path), 'utf8')).toBe(text)
    expect(readdirSync(join(target, 'pkg'))).toEqual(['notes.txt'])
  })

  it("never ships the source's own .deploy: the host's lock and state.json stay the action's", async () => {
    const source = richSourceTree()
    write(source, '.deploy/state.json', '{"processes": [{"pid": 1, "pgid": 1, "start": 0}]}\n')
    write(source, '.deploy/lock/owner', 'not a deploy\n')
    write(source, '.deploy/releases.log', 'forged\n')
    const target = join(sshd.dir, 'in-place-reserved')
    const inputs = await deployInputs(sshd, source, target, { strategy: 'in-place' })
    const first = await deploy(inputs)
    expect(first.stdout).toContain(`${source}/.deploy was not shipped`)
    // A second deploy would wait out lock-timeout on a shipped lock; it takes the lock at once.
    await deploy({ ...inputs, 'lock-timeout': '5' })
    expect(readFileSync(join(target, '.deploy/state.json'), 'utf8')).toContain('"boot_id"')
    expect(readFileSync(join(target, '.deploy/releases.log'), 'utf8')).not.toContain('forged')
    expect(existsSync(join(target, '.deploy/lock'))).toBe(false)
  })
})

describe('source trees refused before anything on the host changes', () => {
  it('a shared path through a symlink in the source: the file outside stays where it is', async () => {
    const outside = mkdtempSync(join(tmpdir(), 'vsd-outside-'))
    write(outside, 'secret.txt', "not the release's\n")
    const source = richSourceTree()
    symlinkSync(outside, join(source, 'conf'))
    const target = join(sshd.dir, 'symlinked-shared')
    const inputs = await deployInputs(sshd, source, target, { 'shared-paths': 'conf/secret.txt' })
    const refused = await deploy(inputs, 1)
    expect(failureMessage(refused)).toContain(
      `upload: shared-paths: 'conf/secret.txt' goes through the symlink conf in the source (pointing to ${outside})`
    )
    expect(readFileSync(join(outside, 'secret.txt'), 'utf8')).toBe("not the release's\n")
    expect(existsSync(join(target, 'shared'))).toBe(false)
    expect(existsSync(join(target, 'releases'))).toBe(false)
  })

  it('a file name that is not UTF-8 is named, with the fix', async () => {
    const source = richSourceTree()
    writeFileSync(Buffer.from(join(source, 'pkg/caf\xe9.py'), 'latin1'), 'X = 1\n')
    const target = join(sshd.dir, 'latin1-name')
    const refused = await deploy(await deployInputs(sshd, source, target), 1)
    expect(failureMessage(refused)).toContain(
      `upload: source has a file name that is not UTF-8: ${source}/pkg/caf\\xe9.py. Rename it to UTF-8`
    )
    expect(existsSync(join(target, 'releases'))).toBe(false)
  })
})

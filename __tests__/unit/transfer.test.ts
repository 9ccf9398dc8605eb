import { describe, expect, it } from '@jest/globals'
import { releasesToPrune } from '../../src/tasks/prune.js'
import { parseTreeListing } from '../../src/commands/switch.js'
import { planInPlaceDeletions } from '../../src/tasks/switch.js'
import { parseInspection } from '../../src/commands/upload.js'
import { hostLibrary } from '../../src/remote/host-library.js'
import { inspectionReport, packTree } from '../../src/tasks/upload.js'
import { remoteLayout } from '../../src/remote/layout.js'
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  excludeMatcher,
  manifestDelta,
  manifestLine,
  parseManifest,
  planTransfer,
  scanSource,
  SMALL_FILE,
  type FileEntry,
  type TreeEntry
} from '../../src/source/source-tree.js'
import { findPathLiteral } from '../../src/commands/bytecode.js'

describe('excludeMatcher', () => {
  const excluded = excludeMatcher([
    '.git',
    '__pycache__',
    '*.pyc',
    '*.log',
    'node_modules/',
    '/build',
    'docs/*.md'
  ])
  it.each([
    ['.git', true, true],
    ['pkg/__pycache__', true, true],
    ['a/b/c.pyc', false, true],
    ['logs/app.log', false, true],
    ['web/node_modules', true, true],
    ['web/node_modules', false, false],
    ['build', true, true],
    ['src/build', true, false],
    ['docs/readme.md', false, true],
    ['docs/api/readme.md', false, false],
    ['app.py', false, false],
    ['.github', true, false]
  ])('%s (dir: %s) excluded: %s', (path, isDir, expected) => {
    expect(excluded(path, isDir)).toBe(expected)
  })
})

describe('exclude means what .gitignore means', () => {
  const patterns = [
    '*.log',
    '!keep.log',
    'build/',
    '/dist',
    'docs/**/*.md',
    '!docs/api/index.md',
    'cache*',
    '!cache-keep',
    'tmp/*',
    '!tmp/.gitkeep',
    '\\#literal',
    'space name.txt',
    '**/secrets/*.key'
  ]
  const files = [
    'app.py',
    'server.log',
    'keep.log',
    'logs/keep.log',
    'logs/other.log',
    'build/out.js',
    'src/build/out.js',
    'dist/app.js',
    'src/dist/app.js',
    'docs/readme.md',
    'docs/api/index.md',
    'docs/api/deep/page.md',
    'cache.db',
    'cache-keep',
    'tmp/x',
    'tmp/.gitkeep',
    '#literal',
    'space name.txt',
    'a/secrets/id.key',
    'secrets/id.key',
    'secrets/id.pub'
  ]

  it('ships exactly the files git does not ignore for the same patterns (negation included)', async () => {
    const root = mkdtempSync(join(tmpdir(), 'vsd-ignore-'))
    for (const file of files) {
      mkdirSync(join(root, file, '..'), { recursive: true })
      writeFileSync(join(root, file), file)
    }
    writeFileSync(join(root, '.gitignore'), `${patterns.join('\n')}\n`)
    execFileSync('git', ['init', '-q', root])
    const gitKeeps = execFileSync(
      'git',
      ['-C', root, 'ls-files', '--others', '--exclude-standard', '-z'],
      {
        encoding: 'utf8'
      }
    )
      .split('\0')
      .filter(path => path && path !== '.gitignore')
      .sort()
    const scanned = await scanSource(root, excludeMatcher(patterns))
    const shipped = scanned
      .filter(entry => entry.type === 'file' && entry.path !== '.gitignore')
      .map(entry => entry.path)
      .sort()
    expect(shipped).toEqual(gitKeeps)
    // The cases a hand-written matcher got wrong: a negation keeps the rest of the tree.
    expect(shipped).toEqual(
      expect.arrayContaining(['app.py', 'keep.log', 'logs/keep.log', 'docs/api/index.md'])
    )
    expect(shipped).not.toContain('server.log')
  })

  it('a negation cannot bring back what is always excluded', () => {
    const excluded = excludeMatcher(['!*.pyc', '!.git'])
    expect(excluded('pkg/mod.pyc', false)).toBe(true)
    expect(excluded('.git', true)).toBe(true)
  })
})

describe('planTransfer', () => {
  const file = (path: string, hash: string, mode = 0o644): TreeEntry => ({
    path,
    type: 'file',
    hash,
    size: 1,
    mode,
    mtime: new Date(0),
    absolute: `/src/${path}`
  })
  it('copies only files whose content, size and mode the base already has', () => {
    const entries = [
      file('same.py', 'h1'),
      file('edited.py', 'h2'),
      file('new.py', 'h3'),
      file('chmod.sh', 'h4', 0o755)
    ]
    const base = parseManifest(
      ['h1\t1\t420\t"same.py"', 'old\t1\t420\t"edited.py"', 'h4\t1\t420\t"chmod.sh"'].join('\n')
    )
    const { send, copy } = planTransfer(entries, base)
    expect(copy.map(entry => entry.path)).toEqual(['same.py'])
    expect(send.map(entry => entry.path)).toEqual(['edited.py', 'new.py', 'chmod.sh'])
    expect(planTransfer(entries, undefined).send).toHaveLength(4)
  })
})

describe('in-place removals', () => {
  const records = (list: string[]) => list.map(record => `${record}\0`).join('')
  const listing = (staged: string[], shipped: string[], live: string[]) =>
    parseTreeListing(`${records(staged)}\0${records(shipped)}\0${records(live)}`)

  it('removes only what an earlier deploy shipped; the rest is listed as not ours and kept', () => {
    const trees = listing(
      ['f app.py', 'd pkg', 'f pkg/a.py', 'l link'],
      [
        'f app.py',
        'd pkg',
        'f pkg/a.py',
        'f pkg/gone.py',
        'd old',
        'f old/x.py',
        'd link',
        'f link/y.py',
        'd data',
        'f data/schema.sql'
      ],
      [
        'f app.py',
        'd pkg',
        'f pkg/a.py',
        'f pkg/gone.py',
        'd old',
        'f old/x.py',
        'd link',
        'f link/y.py',
        'd data',
        'f data/schema.sql',
        'f data/users.db',
        'f .env',
        'd .venv',
        'd .venv/bin',
        'f .venv/bin/python',
        'd logs',
        'f logs/today.txt',
        'f server.log',
        'd var',
        'f stray'
      ]
    )
    expect(planInPlaceDeletions(trees, ['*.log', 'logs/'], ['var/uploads'])).toEqual({
      files: ['data/schema.sql', 'link/y.py', 'old/x.py', 'pkg/gone.py'],
      dirs: ['old', 'link'],
      notOurs: ['.env', '.venv/', 'data/users.db', 'stray']
    })
  })

  it('before any deploy shipped something, nothing is removed', () => {
    const trees = listing(['f app.py'], [], ['f app.py', 'f stale.py', 'd data', 'f data/users.db'])
    expect(planInPlaceDeletions(trees, [], [])).toEqual({
      files: [],
      dirs: [],
      notOurs: ['data/', 'stale.py']
    })
  })

  it('refuses, before anything stops, a new path where the host keeps files no deploy shipped', () => {
    expect(() =>
      planInPlaceDeletions(listing(['d config', 'f config/a'], [], ['f config']), [], [])
    ).toThrow(/new tree has a directory at config, where the host has a file no deploy shipped/)
    expect(() =>
      planInPlaceDeletions(
        listing(['f data'], ['d data', 'f data/a'], ['d data', 'f data/a', 'f data/users.db']),
        [],
        []
      )
    ).toThrow(/new tree has a file at data, where the host has a directory holding files/)
  })
})

describe('prune and inspection', () => {
  it('keeps the newest releases and never the protected ones', () => {
    expect(
      releasesToPrune(
        ['20260101T000000Z-a', '20260103T000000Z-c', '20260102T000000Z-b', '20260104T000000Z-d'],
        2,
        []
      )
    ).toEqual(['20260102T000000Z-b', '20260101T000000Z-a'])
    expect(
      releasesToPrune(['20260101T000000Z-a', '20260102T000000Z-b'], 1, ['20260101T000000Z-a'])
    ).toEqual([])
  })

  it('finds where the host report ends in the upload command output, only once it is whole', () => {
    expect(inspectionReport('current r2\nend-of-insp')).toBeUndefined()
    expect(inspectionReport('current r2\nend-of-inspection\n')).toBe('current r2\n')
    expect(inspectionReport('end-of-inspection\n')).toBe('')
    expect(inspectionReport('manifest\nh\t1\t420\t"end-of-inspection"\n')).toBeUndefined()
    // Searching on from where the last chunk ended still finds a marker split across chunks.
    const output = 'current r2\nmanifest\nh\t1\t420\t"a"\nend-of-inspection\nmore'
    expect(inspectionReport(output, output.indexOf('end-of'))).toBe(
      output.slice(0, output.indexOf('end-of'))
    )
  })

  it('reads the host report and the manifest lines after it, skipping damaged lines', () => {
    const parsed = parseInspection(
      'current r2\ncurrent-sha abc\nrelease r1\nrelease r2\nbase r2\nmanifest\nh\t1\t420\t"a b"\nbroken line\nh2\t2\t493\t"new\\nline"\n'
    )
    expect(parsed).toMatchObject({
      current: 'r2',
      currentSha: 'abc',
      releases: ['r1', 'r2'],
      base: 'r2'
    })
    expect([...(parsed.manifest?.files ?? [])]).toEqual([
      ['a b', { hash: 'h', size: 1, mode: 420 }],
      ['new\nline', { hash: 'h2', size: 2, mode: 493 }]
    ])
    expect(parseInspection('')).toEqual({ releases: [] })
  })

  it('escapes find -path metacharacters', () => {
    expect(findPathLiteral('/srv/a*b?[c]\\d')).toBe('/srv/a\\*b\\?\\[c\\]\\\\d')
  })
})

describe('manifest delta, merged on the host by awk', () => {
  it('rebuilds the new manifest from the base plus only the changed lines', () => {
    const file = (path: string, hash: string): FileEntry => ({
      path,
      type: 'file',
      hash,
      size: 1,
      mode: 420,
      mtime: new Date(0),
      absolute: ''
    })
    const base = [
      file('keep.py', 'k'),
      file('edit.py', 'e1'),
      file('gone.py', 'g'),
      file('tab\there "quoted"\nnewline', 'q')
    ]
    const now = [
      file('keep.py', 'k'),
      file('edit.py', 'e2'),
      file('new.py', 'n'),
      file('tab\there "quoted"\nnewline', 'q')
    ]
    const baseManifest = parseManifest(base.map(entry => manifestLine(entry.path, entry)).join(''))
    const delta = manifestDelta(now, baseManifest)
    expect(delta.split('\n').filter(Boolean)).toHaveLength(4) // header, edit.py, new.py, -gone.py

    const dir = mkdtempSync(join(tmpdir(), 'vsd-manifest-'))
    const layout = remoteLayout(dir)
    mkdirSync(join(dir, '.deploy/manifests'), { recursive: true })
    writeFileSync(
      join(dir, '.deploy/manifests/base.tsv'),
      base.map(entry => manifestLine(entry.path, entry)).join('')
    )
    writeFileSync(join(dir, 'delta'), delta)
    execFileSync('/bin/sh', [
      '-c',
      `${hostLibrary().text}\nmerge_manifest "$1" base next "$2"`,
      'sh',
      join(layout.deployDir, 'manifests'),
      join(dir, 'delta')
    ])
    const merged = parseManifest(readFileSync(join(dir, '.deploy/manifests/next.tsv'), 'utf8'))
    expect([...merged.files.keys()].sort()).toEqual(now.map(entry => entry.path).sort())
    expect(merged.files.get('edit.py')?.hash).toBe('e2')
    expect(planTransfer(now, merged).send).toEqual([])
  })
})

describe('packTree, unpacked by the real tar', () => {
  const unpack = async (entries: TreeEntry[], meta: Record<string, Buffer>): Promise<string> => {
    const files = new Set(entries.filter(entry => entry.type === 'file').map(entry => entry.path))
    const chunks: Buffer[] = []
    for await (const chunk of packTree(entries, files, meta).stream) chunks.push(chunk as Buffer)
    const out = mkdtempSync(join(tmpdir(), 'vsd-unpack-'))
    execFileSync('tar', ['-xzf', '-', '-C', out], { input: Buffer.concat(chunks) })
    return out
  }

  it('sends the tree under tree/ and the meta files beside it, whether the scan kept contents or not', async () => {
    const source = mkdtempSync(join(tmpdir(), 'vsd-pack-'))
    mkdirSync(join(source, 'pkg'))
    writeFileSync(join(source, 'pkg/small.py'), 'MESSAGE = "v1"\n')
    const large = randomBytes(SMALL_FILE * 3)
    writeFileSync(join(source, 'pkg/weights.bin'), large)
    for (const keepBytes of [Infinity, 0]) {
      const entries = await scanSource(source, () => false, keepBytes)
      const small = entries.find(entry => entry.path === 'pkg/small.py') as FileEntry
      expect(small.content === undefined).toBe(keepBytes === 0)
      const out = await unpack(entries, { 'meta/copy': Buffer.from('./a\0') })
      expect(readFileSync(join(out, 'tree/pkg/small.py'), 'utf8')).toBe('MESSAGE = "v1"\n')
      expect(readFileSync(join(out, 'tree/pkg/weights.bin')).equals(large)).toBe(true)
      expect(readFileSync(join(out, 'meta/copy'), 'utf8')).toBe('./a\0')
    }
  })

  it('fails the stream when a file re-read for the upload changed size since the scan', async () => {
    const source = mkdtempSync(join(tmpdir(), 'vsd-pack-'))
    writeFileSync(join(source, 'app.py'), 'x = 1\n')
    const entries = await scanSource(source, () => false, 0)
    writeFileSync(join(source, 'app.py'), 'x = 12345\n')
    await expect(unpack(entries, {})).rejects.toThrow('app.py changed while it was being uploaded')
  })
})

import { describe, expect, it } from '@jest/globals'
import { releasesToPrune } from '../../src/phases/prune.js'
import { parseTreeListing, pathsToDelete } from '../../src/phases/switch.js'
import { parseInspection } from '../../src/phases/upload.js'
import { excludeMatcher, planTransfer, type TreeEntry } from '../../src/source-tree.js'
import { findPathLiteral } from '../../src/phases/bytecode.js'

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
    const base = {
      version: 1 as const,
      files: {
        'same.py': ['h1', 1, 0o644],
        'edited.py': ['old', 1, 0o644],
        'chmod.sh': ['h4', 1, 0o644]
      } as Record<string, [string, number, number]>
    }
    const { send, copy } = planTransfer(entries, base)
    expect(copy.map(entry => entry.path)).toEqual(['same.py'])
    expect(send.map(entry => entry.path)).toEqual(['edited.py', 'new.py', 'chmod.sh'])
    expect(planTransfer(entries, undefined).send).toHaveLength(4)
  })
})

describe('in-place --delete semantics', () => {
  it('deletes what the new tree lacks or has with another type, but not excluded or shared paths', () => {
    const records = (list: string[]) => list.map(record => `${record}\0`).join('')
    const { staged, live } = parseTreeListing(
      records(['f app.py', 'd pkg', 'f pkg/a.py', 'l link']) +
        '\0' +
        records([
          'f app.py',
          'd pkg',
          'f pkg/a.py',
          'f pkg/gone.py',
          'd old',
          'f old/x.py',
          'd link',
          'f server.log',
          'd var',
          'f stray'
        ])
    )
    expect(pathsToDelete(staged, live, ['*.log'], ['var/uploads'])).toEqual([
      'link',
      'old',
      'pkg/gone.py',
      'stray'
    ])
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

  it('reads the host report, tolerating a broken manifest', () => {
    const parsed = parseInspection(
      'current r2\ncurrent-sha abc\nrelease r1\nrelease r2\nbase r2\nmanifest {"version":1,"files":{"a":["h",1,420]}}\n'
    )
    expect(parsed).toEqual({
      current: 'r2',
      currentSha: 'abc',
      releases: ['r1', 'r2'],
      base: 'r2',
      manifest: { version: 1, files: { a: ['h', 1, 420] } }
    })
    expect(parseInspection('base r2\nmanifest {broken').manifest).toBeUndefined()
    expect(parseInspection('')).toEqual({ releases: [] })
  })

  it('escapes find -path metacharacters', () => {
    expect(findPathLiteral('/srv/a*b?[c]\\d')).toBe('/srv/a\\*b\\?\\[c\\]\\\\d')
  })
})

import { createHash, randomBytes } from 'node:crypto'
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'

/**
 * Every dir, file and symlink under `root` as path → description (type, permission bits, content
 * hash or link target), so two trees compare byte for byte. `skip` drops a path and all below it.
 */
export function treeDigest(
  root: string,
  skip: (path: string) => boolean = () => false
): Record<string, string> {
  const digest: Record<string, string> = {}
  const walk = (relative: string): void => {
    for (const name of readdirSync(join(root, relative)).sort()) {
      const path = relative ? `${relative}/${name}` : name
      if (skip(path)) continue
      const absolute = join(root, path)
      const stat = lstatSync(absolute)
      const mode = (stat.mode & 0o777).toString(8)
      if (stat.isSymbolicLink()) digest[path] = `link -> ${readlinkSync(absolute)}`
      else if (stat.isDirectory()) {
        digest[path] = `dir ${mode}`
        walk(path)
      } else
        digest[path] =
          `file ${mode} ${createHash('sha256').update(readFileSync(absolute)).digest('hex')}`
    }
  }
  walk('')
  return digest
}

export function write(root: string, path: string, content: string | Buffer, mode?: number): void {
  mkdirSync(dirname(join(root, path)), { recursive: true })
  writeFileSync(join(root, path), content)
  if (mode !== undefined) chmodSync(join(root, path), mode)
}

/** Paths the rich tree contains that the deploy must not ship (with exclude `*.log` and `node_modules/`). */
export const RICH_TREE_EXCLUDED = [
  '.git',
  'pkg/__pycache__',
  'stray.pyc',
  'old.pyo',
  'logs/app.log',
  'node_modules'
]
export const RICH_TREE_EXCLUDE_INPUT = '*.log\nnode_modules/'

/** A source tree with the awkward cases: spaces, unicode, a newline in a name, links, empty dirs, modes. */
export function richSourceTree(): string {
  const root = mkdtempSync(join(tmpdir(), 'vsd-rich-'))
  write(root, 'app.py', 'print("app")\n')
  write(root, 'pkg/__init__.py', '')
  write(root, 'pkg/module with space.py', 'X = 1\n')
  write(root, 'pkg/ünïcødé.py', 'Y = "ü"\n')
  write(root, 'pkg/new\nline.py', 'Z = 3\n')
  write(root, 'bin/run.sh', '#!/bin/sh\necho run\n', 0o755)
  write(root, 'config/settings.json', '{"debug": false}\n', 0o600)
  write(root, 'data/blob.bin', randomBytes(600 * 1024))
  symlinkSync('app.py', join(root, 'link-to-app'))
  symlinkSync('does-not-exist', join(root, 'dangling'))
  mkdirSync(join(root, 'empty/nested'), { recursive: true })
  write(root, '.git/HEAD', 'ref: refs/heads/main\n')
  write(root, 'pkg/__pycache__/app.cpython-311.pyc', 'bytecode')
  write(root, 'stray.pyc', 'bytecode')
  write(root, 'old.pyo', 'bytecode')
  write(root, 'logs/app.log', 'log line\n')
  write(root, 'node_modules/x/index.js', '')
  return root
}

/** Whether `path` is one of `roots` or below one. */
export const isUnder = (roots: string[]) => (path: string) =>
  roots.some(root => path === root || path.startsWith(`${root}/`))

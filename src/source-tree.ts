import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { lstat, readdir, readlink } from 'node:fs/promises'
import { join } from 'node:path'
import picomatch from 'picomatch'

/** Patterns never shipped: git metadata and Python bytecode. */
export const ALWAYS_EXCLUDED = ['.git', '__pycache__', '*.pyc', '*.pyo']

interface EntryBase {
  /** Relative to the source root, `/`-separated. */
  path: string
  mode: number
  mtime: Date
}
export type TreeEntry =
  | (EntryBase & { type: 'dir' })
  | (EntryBase & { type: 'symlink'; target: string })
  | (EntryBase & { type: 'file'; size: number; hash: string; absolute: string })
export type FileEntry = Extract<TreeEntry, { type: 'file' }>

/**
 * rsync/gitignore-style matching: a pattern without `/` matches a name at any depth, one with `/`
 * matches the path from the root (a leading `/` is optional), a trailing `/` matches directories
 * only; a matched directory excludes everything below it.
 */
export function excludeMatcher(patterns: string[]): (path: string, isDir: boolean) => boolean {
  const rules = patterns.map(raw => {
    const dirOnly = raw.endsWith('/')
    const pattern = raw.replace(/\/+$/, '').replace(/^\//, '')
    const anchored = raw.replace(/\/+$/, '').includes('/')
    return { dirOnly, anchored, match: picomatch(pattern, { dot: true }) }
  })
  return (path, isDir) => {
    const name = path.slice(path.lastIndexOf('/') + 1)
    return rules.some(rule => (!rule.dirOnly || isDir) && rule.match(rule.anchored ? path : name))
  }
}

async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

/** Runs `work` over `items` with at most `limit` at a time. */
async function mapLimited<T, R>(
  items: T[],
  limit: number,
  work: (item: T) => Promise<R>
): Promise<R[]> {
  const results: R[] = new Array(items.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++
      results[index] = await work(items[index])
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return results
}

/** Every directory, file and symlink under `root` that is not excluded, sorted, files hashed. */
export async function scanSource(
  root: string,
  excluded: (path: string, isDir: boolean) => boolean
): Promise<TreeEntry[]> {
  const found: { path: string; absolute: string }[] = []
  const walk = async (relative: string): Promise<void> => {
    const entries = await readdir(join(root, relative), { withFileTypes: true })
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    for (const entry of entries) {
      const path = relative ? `${relative}/${entry.name}` : entry.name
      if (excluded(path, entry.isDirectory())) continue
      found.push({ path, absolute: join(root, path) })
      if (entry.isDirectory()) await walk(path)
    }
  }
  await walk('')
  const entries = await mapLimited(
    found,
    16,
    async ({ path, absolute }): Promise<TreeEntry | undefined> => {
      const stat = await lstat(absolute)
      const base = { path, mode: stat.mode & 0o7777, mtime: stat.mtime }
      if (stat.isDirectory()) return { ...base, type: 'dir' }
      if (stat.isSymbolicLink())
        return { ...base, type: 'symlink', target: await readlink(absolute) }
      if (stat.isFile())
        return { ...base, type: 'file', size: stat.size, hash: await hashFile(absolute), absolute }
      return undefined // sockets, fifos and devices are not shipped
    }
  )
  return entries.filter((entry): entry is TreeEntry => entry !== undefined)
}

/**
 * What the host keeps per tree: one line per file, `hash<TAB>size<TAB>mode<TAB>"json path"`. The
 * path is JSON-quoted so no path can break a line or a field; the host merges these lines with awk.
 */
export interface Manifest {
  files: Map<string, ManifestEntry>
}
export interface ManifestEntry {
  hash: string
  size: number
  mode: number
}

export function manifestLine(path: string, entry: ManifestEntry): string {
  return `${entry.hash}\t${entry.size}\t${entry.mode}\t${JSON.stringify(path)}\n`
}

export function parseManifest(text: string): Manifest {
  const files = new Map<string, ManifestEntry>()
  for (const line of text.split('\n')) {
    const [hash, size, mode, quoted] = line.split('\t')
    if (!quoted) continue
    try {
      files.set(JSON.parse(quoted) as string, { hash, size: Number(size), mode: Number(mode) })
    } catch {
      // A damaged line only means that file is sent again.
    }
  }
  return { files }
}

/**
 * The change from `base` to `entries` as manifest lines (`-<TAB>"path"` for a file that is gone),
 * after a `#delta` header line so an empty change still reads as one.
 */
export function manifestDelta(entries: FileEntry[], base: Manifest | undefined): string {
  const now = new Set(entries.map(entry => entry.path))
  const lines = ['#delta\n']
  for (const entry of entries) {
    const known = base?.files.get(entry.path)
    if (
      !known ||
      known.hash !== entry.hash ||
      known.size !== entry.size ||
      known.mode !== entry.mode
    ) {
      lines.push(manifestLine(entry.path, entry))
    }
  }
  for (const path of base?.files.keys() ?? [])
    if (!now.has(path)) lines.push(`-\t${JSON.stringify(path)}\n`)
  return lines.join('')
}

/** Splits files into those to send and those the host can copy from the base release. */
export function planTransfer(
  entries: TreeEntry[],
  base: Manifest | undefined
): { send: FileEntry[]; copy: FileEntry[] } {
  const send: FileEntry[] = []
  const copy: FileEntry[] = []
  for (const entry of entries) {
    if (entry.type !== 'file') continue
    const known = base?.files.get(entry.path)
    const unchanged =
      known && known.hash === entry.hash && known.size === entry.size && known.mode === entry.mode
    if (unchanged) copy.push(entry)
    else send.push(entry)
  }
  return { send, copy }
}

import ignore from 'ignore'
import { createHash } from 'node:crypto'
import { createReadStream, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { join } from 'node:path'

/**
 * Never shipped. `/.deploy` is reserved: the action keeps its lock, state.json and releases.log in
 * `<target>/.deploy`, and an in-place deploy would otherwise let the repository overwrite them.
 */
export const ALWAYS_EXCLUDED = ['.git', '__pycache__', '*.pyc', '*.pyo', '/.deploy']

interface EntryBase {
  /** Relative to the source root, `/`-separated. */
  path: string
  mode: number
  mtime: Date
}
export type TreeEntry =
  | (EntryBase & { type: 'dir' })
  | (EntryBase & { type: 'symlink'; target: string })
  | (EntryBase & {
      type: 'file'
      size: number
      hash: string
      absolute: string
      /** The bytes that were hashed, when the scan kept them. */
      content?: Buffer
    })
export type FileEntry = Extract<TreeEntry, { type: 'file' }>

/**
 * `.gitignore` matching, by the `ignore` library (the rules git applies, negation included): a
 * pattern without `/` matches a name at any depth, one with `/` matches from the root, a trailing
 * `/` matches directories only, `!` re-includes. The `always` patterns cannot be re-included.
 * A matched directory excludes everything below it.
 */
export function excludeMatcher(
  exclude: string[],
  always: string[] = ALWAYS_EXCLUDED
): (path: string, isDir: boolean) => boolean {
  const fixed = ignore().add(always)
  const user = ignore().add(exclude)
  return (path, isDir) => {
    const name = isDir ? `${path}/` : path
    return fixed.ignores(name) || user.ignores(name)
  }
}

/**
 * A name that is not valid UTF-8 reads back with U+FFFD in it, and no file has that name: say which
 * file it is (its bytes escaped) and how to fix it, rather than fail later with ENOENT.
 */
function refuseUndecodable(root: string, relative: string, decoded: string): void {
  const raw = readdirSync(join(root, relative), { encoding: 'buffer' }).find(
    name => name.toString('utf8') === decoded
  )
  if (raw && Buffer.from(decoded, 'utf8').equals(raw)) return // a real U+FFFD in a UTF-8 name
  const escaped = [...(raw ?? Buffer.from(decoded))]
    .map(byte =>
      byte >= 0x20 && byte < 0x7f
        ? String.fromCharCode(byte)
        : `\\x${byte.toString(16).padStart(2, '0')}`
    )
    .join('')
  throw new Error(
    `source has a file name that is not UTF-8: ${join(root, relative, escaped)}. ` +
      "Rename it to UTF-8 (e.g. 'convmv -f latin1 -t utf-8 --notest -r DIR'), or delete it before the deploy step."
  )
}

/** Files up to this size are read whole and hashed in one go; larger ones are streamed. */
export const SMALL_FILE = 256 * 1024
/** Small files' contents are kept from the scan for the upload, up to this many bytes in all. */
const KEPT_CONTENT_BYTES = 128 * 1024 * 1024
/** Files handled between two yields to the event loop (the SSH handshake runs meanwhile). */
const BATCH = 64

async function hashStream(path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

/**
 * Every directory, file and symlink under `root` that is not excluded, sorted, files hashed, and
 * small files' contents kept (within a budget) so the upload need not read them again. Small files
 * are read synchronously in batches: one promise per file costs more than the read itself.
 */
export async function scanSource(
  root: string,
  excluded: (path: string, isDir: boolean) => boolean,
  keepBytes = KEPT_CONTENT_BYTES
): Promise<TreeEntry[]> {
  const found: string[] = []
  const walk = (relative: string): void => {
    const names = readdirSync(join(root, relative), { withFileTypes: true }).sort((a, b) =>
      byName(a.name, b.name)
    )
    for (const entry of names) {
      const path = relative ? `${relative}/${entry.name}` : entry.name
      if (entry.name.includes('\uFFFD')) refuseUndecodable(root, relative, entry.name)
      if (excluded(path, entry.isDirectory())) continue
      found.push(path)
      if (entry.isDirectory()) walk(path)
    }
  }
  walk('')
  const entries: TreeEntry[] = []
  let keptBytes = 0
  for (const [index, path] of found.entries()) {
    if (index % BATCH === BATCH - 1) await new Promise(resolve => setImmediate(resolve))
    const absolute = join(root, path)
    const stat = lstatSync(absolute)
    const base = { path, mode: stat.mode & 0o7777, mtime: stat.mtime }
    if (stat.isDirectory()) entries.push({ ...base, type: 'dir' })
    else if (stat.isSymbolicLink())
      entries.push({ ...base, type: 'symlink', target: readlinkSync(absolute) })
    else if (stat.isFile() && stat.size > SMALL_FILE) {
      const hash = await hashStream(absolute)
      entries.push({ ...base, type: 'file', size: stat.size, hash, absolute })
    } else if (stat.isFile()) {
      const content = readFileSync(absolute)
      const hash = createHash('sha256').update(content).digest('hex')
      const keep = keptBytes + content.length <= keepBytes
      if (keep) keptBytes += content.length
      entries.push({
        ...base,
        type: 'file',
        size: content.length,
        hash,
        absolute,
        content: keep ? content : undefined
      })
    }
    // sockets, fifos and devices are not shipped
  }
  return entries
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

/** Whether `base` holds `entry` with the same content and mode. */
function unchangedIn(base: Manifest | undefined, entry: FileEntry): boolean {
  const known = base?.files.get(entry.path)
  return (
    known !== undefined &&
    known.hash === entry.hash &&
    known.size === entry.size &&
    known.mode === entry.mode
  )
}

/**
 * The change from `base` to `entries` as manifest lines (`-<TAB>"path"` for a file that is gone),
 * after a `#delta` header line so an empty change still reads as one.
 */
export function manifestDelta(entries: FileEntry[], base: Manifest | undefined): string {
  const now = new Set(entries.map(entry => entry.path))
  const lines = ['#delta\n']
  for (const entry of entries)
    if (!unchangedIn(base, entry)) lines.push(manifestLine(entry.path, entry))
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
    if (unchangedIn(base, entry)) copy.push(entry)
    else send.push(entry)
  }
  return { send, copy }
}

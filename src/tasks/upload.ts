import * as core from '@actions/core'
import { createReadStream, existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { PassThrough, Transform, type Readable } from 'node:stream'
import tar from 'tar-stream'
import type { DeployContext } from '../model/context.js'
import { createParallelGzip } from '../source/parallel-gzip.js'
import { RemoteCommandError } from '../remote/remote.js'
import {
  ALWAYS_EXCLUDED,
  excludeMatcher,
  manifestDelta,
  planTransfer,
  scanSource,
  SMALL_FILE,
  type FileEntry,
  type TreeEntry
} from '../source/source-tree.js'
import type { Settings } from '../inputs/settings.js'
import { info } from '../report/host-text.js'
import { UPLOAD_SECONDS } from '../model/budgets.js'
import { strategyOf } from '../model/strategy.js'
import {
  IN_PLACE_TREE,
  uploadScript,
  INSPECTION_END,
  COPY_LIST,
  MANIFEST_DELTA,
  parseInspection
} from '../commands/upload.js'

/** gzip level: fast enough not to be the bottleneck on loopback, still halves text on a WAN. */
const GZIP_LEVEL = 1

/**
 * The inspection part of the upload command's output, once it is all there. `from` is how much
 * of `stdout` was searched before, so a large manifest arriving in many chunks is scanned once.
 */
export function inspectionReport(stdout: string, from = 0): string | undefined {
  if (stdout.startsWith(`${INSPECTION_END}\n`)) return ''
  const marker = `\n${INSPECTION_END}\n`
  const end = stdout.indexOf(marker, Math.max(0, from - marker.length))
  return end < 0 ? undefined : stdout.slice(0, end + 1)
}

type EntryHeader = Partial<tar.Header> & { name: string }

/**
 * A gzip tar stream of every dir and symlink plus the files to send, under `tree/`, then the `meta`
 * files; counts bytes on the wire.
 */
export function packTree(
  entries: TreeEntry[],
  send: Set<string>,
  meta: Record<string, Buffer> = {}
): { stream: Readable; wireBytes: () => number; packed: { files: number; bytes: number } } {
  const pack = tar.pack()
  const packed = { files: 0, bytes: 0 }
  const add = (headers: EntryHeader, body?: Buffer): Promise<EntryHeader> =>
    new Promise((resolve, reject) => {
      const done = (error?: Error | null): void => (error ? reject(error) : resolve(headers))
      if (body) pack.entry(headers, body, done)
      else pack.entry(headers, done)
    })
  const contentOf = (entry: FileEntry): Buffer => {
    const content = entry.content ?? readFileSync(entry.absolute)
    if (content.length !== entry.size)
      throw new Error(`${entry.path} changed while it was being uploaded; run the deploy again`)
    return content
  }
  const fill = async (): Promise<void> => {
    for (const entry of entries) {
      const common = {
        name: `tree/${entry.path}`,
        mode: entry.mode,
        mtime: entry.mtime,
        uid: 0,
        gid: 0
      }
      if (entry.type === 'dir') await add({ ...common, type: 'directory' })
      else if (entry.type === 'symlink')
        await add({ ...common, type: 'symlink', linkname: entry.target })
      else if (send.has(entry.path)) {
        if (entry.size <= SMALL_FILE) {
          await add({ ...common, type: 'file', size: entry.size }, contentOf(entry))
        } else {
          await new Promise<void>((resolve, reject) => {
            const sink = pack.entry({ ...common, type: 'file', size: entry.size }, error =>
              error ? reject(error) : resolve()
            )
            pipeline(createReadStream(entry.absolute, { highWaterMark: 1024 * 1024 }), sink).catch(
              reject
            )
          })
        }
        packed.files++
        packed.bytes += entry.size
      }
    }
    for (const [name, body] of Object.entries(meta))
      await add({ name, type: 'file', mode: 0o600 }, body)
    pack.finalize()
  }
  let wire = 0
  // Counting in a transform, not a 'data' listener: a listener would start the flow before the
  // channel is piped in, and those bytes would be lost.
  const counted = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      wire += chunk.length
      done(null, chunk)
    }
  })
  fill().catch(error => counted.destroy(error as Error))
  pack.pipe(createParallelGzip({ level: GZIP_LEVEL })).pipe(counted)
  return { stream: counted, wireBytes: () => wire, packed }
}

/** Shared paths that lie below a symlink of the source tree, with that symlink. */
export function symlinkCrossings(
  entries: TreeEntry[],
  sharedPaths: string[]
): { shared: string; symlink: string; target: string }[] {
  const symlinks = new Map(
    entries.flatMap(entry => (entry.type === 'symlink' ? [[entry.path, entry.target]] : []))
  )
  return sharedPaths.flatMap(shared => {
    const parts = shared.split('/')
    for (let depth = 1; depth < parts.length; depth++) {
      const symlink = parts.slice(0, depth).join('/')
      const target = symlinks.get(symlink)
      if (target !== undefined) return [{ shared, symlink, target }]
    }
    return []
  })
}

const MIB = 1024 * 1024

/** Milliseconds between the progress lines of a long upload. */
const PROGRESS_MS = 5000

const BLOCK = 4096

/** What a tree takes on disk, roughly: each file rounded up to whole blocks, a block per entry. */
export function diskUsage(entries: TreeEntry[]): number {
  return entries.reduce(
    (sum, entry) =>
      sum + BLOCK + (entry.type === 'file' ? Math.ceil(entry.size / BLOCK) * BLOCK : 0),
    0
  )
}

function uniqueRelease(wanted: string, existing: string[]): string {
  let name = wanted
  for (let n = 2; existing.includes(name); n++) name = `${wanted}-${n}`
  return name
}

const under = (paths: string[]) => (path: string) =>
  paths.some(shared => path === shared || path.startsWith(`${shared}/`))

const scans = new WeakMap<Settings, Promise<TreeEntry[]>>()

/**
 * The source tree to ship, scanned once per run and shared by every host. The deploy starts it
 * before connecting, so hashing overlaps the SSH handshake and the lock.
 */
export function scanUploadSource(settings: Settings): Promise<TreeEntry[]> {
  let scan = scans.get(settings)
  if (!scan) {
    const isShared = under(settings.sharedPaths)
    // A managed venv is linked in as .venv on the host; a local one is never shipped.
    const managed = settings.pythonRequirements.length > 0 ? ['/.venv'] : []
    const excluded = excludeMatcher(settings.exclude, [...ALWAYS_EXCLUDED, ...managed])
    // In place, shared paths are the host's own: never shipped, never touched by the sync.
    const skip = !strategyOf(settings).keepsReleases
      ? (path: string, isDir: boolean) => excluded(path, isDir) || isShared(path)
      : excluded
    scan = scanSource(settings.source, skip)
    scan.catch(() => undefined) // the upload phase awaits it and reports the error
    scans.set(settings, scan)
  }
  return scan
}

/** upload: build the new tree in staging from unchanged files on the host plus one tar stream. */
export async function upload(ctx: DeployContext): Promise<void> {
  const { settings, session, layout, report } = ctx
  const remote = session.remote
  if (existsSync(join(settings.source, '.deploy'))) {
    core.warning(
      `${settings.source}/.deploy was not shipped: ${layout.deployDir} on the host is the action's own (lock, state.json, releases.log). Rename it in the repository if the service needs it.`
    )
  }
  const isShared = under(settings.sharedPaths)
  // One command: it reports the host's state, then waits on stdin for the plan and the stream.
  const stdin = new PassThrough()
  let reported: (report: string) => void = () => undefined
  const inspection = new Promise<string>(resolve => (reported = resolve))
  let searched = 0
  const receiving = remote.run(
    uploadScript(layout, settings.strategy, settings.stampFile, ctx.lockToken),
    {
      phase: 'upload',
      timeoutSeconds: UPLOAD_SECONDS,
      stdin,
      onStdout: stdout => {
        const text = inspectionReport(stdout, searched)
        searched = stdout.length
        if (text !== undefined) reported(text)
      }
    }
  )
  let entries: TreeEntry[]
  let inspected: string
  try {
    ;[entries, inspected] = await Promise.all([
      scanUploadSource(settings),
      Promise.race([
        inspection,
        receiving.then(() => {
          throw new Error(
            `the upload command on ${ctx.label} ended before reporting the host's state`
          )
        })
      ])
    ])
  } catch (error) {
    stdin.end() // no plan: the command exits without touching anything
    await receiving.catch(() => undefined)
    throw error
  }
  const host = parseInspection(inspected)
  ctx.previousRelease = host.current
  ctx.previousSha = host.currentSha
  ctx.existingReleases = host.releases
  report.previousRelease = host.current
  report.previousSha = host.currentSha

  const releases = strategyOf(settings).keepsReleases
  const name = releases ? uniqueRelease(ctx.release, host.releases) : IN_PLACE_TREE
  // A release of the same name already there (two deploys in one second) gets a new name.
  if (releases && name !== ctx.release) {
    ctx.release = name
    ctx.releaseDir = strategyOf(settings).buildDir(layout, name)
  }
  report.release = ctx.release

  // Files under shared paths become symlinks in a release, so they are never copied from one.
  const transferable = host.manifest && {
    files: new Map([...host.manifest.files].filter(([path]) => !isShared(path)))
  }
  const { send, copy } = planTransfer(entries, transferable)
  const base = transferable ? host.base : undefined
  const files = entries.filter(
    (entry): entry is FileEntry => entry.type === 'file' && !isShared(entry.path)
  )
  const refuse = async (message: string): Promise<never> => {
    stdin.end() // no plan: the command exits without touching anything
    await receiving.catch(() => undefined)
    throw new Error(`${message} Nothing was changed.`)
  }
  const crossing = symlinkCrossings(entries, settings.sharedPaths)[0]
  if (crossing) {
    await refuse(
      `shared-paths: '${crossing.shared}' goes through the symlink ${crossing.symlink} in the source (pointing to ${crossing.target}), ` +
        `so linking it would move what lies outside the release into ${layout.sharedDir}. List a path without symlinks, or remove the symlink from the source.`
    )
  }
  const needed = diskUsage(entries.filter(entry => !isShared(entry.path)))
  if (host.freeKb !== undefined && host.freeKb * 1024 < needed) {
    await refuse(
      `no space left on the host: ${Math.floor(host.freeKb / 1024)} MB free in ${layout.target}, ${Math.ceil(needed / MIB)} MB needed for the new tree. ` +
        'Free space there (a lower keep-releases prunes more on the next deploy), then deploy again.'
    )
  }
  const packed = packTree(entries, new Set(send.map(entry => entry.path)), {
    [COPY_LIST]: Buffer.from(base ? copy.map(entry => `./${entry.path}\0`).join('') : ''),
    [MANIFEST_DELTA]: Buffer.from(manifestDelta(files, transferable))
  })
  stdin.write(`${name}\n${base ?? ''}\n`)
  packed.stream.on('error', error => stdin.destroy(error))
  packed.stream.pipe(stdin)
  const sentBytes = send.reduce((sum, entry) => sum + entry.size, 0)
  const mb = (bytes: number) => (bytes / MIB).toFixed(1)
  const progress = setInterval(
    () =>
      info(
        `sending: ${packed.packed.files} of ${send.length} file(s), ${mb(packed.packed.bytes)} of ${mb(sentBytes)} MB (${mb(packed.wireBytes())} MB on the wire so far)`
      ),
    PROGRESS_MS
  )
  await receiving
    .finally(() => clearInterval(progress))
    .catch((error: unknown) => {
      if (error instanceof RemoteCommandError && /No space left on device/.test(error.stderr)) {
        throw new Error(
          `no space left on the host while the new tree was written in ${layout.target}; the partial tree was removed. ` +
            `Free space there, then deploy again. ${error.message}`
        )
      }
      throw error
    })

  report.uploadedFiles = send.length
  report.uploadedBytes = sentBytes
  info(
    `Sent ${send.length} file(s), ${sentBytes} bytes (${packed.wireBytes()} bytes gzip on the wire); ` +
      (base && copy.length > 0
        ? `copied ${copy.length} unchanged file(s) from ${base} on the host.`
        : 'nothing reused (first deploy or no usable base).')
  )
}

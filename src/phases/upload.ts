import * as core from '@actions/core'
import { createReadStream } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { pipeline } from 'node:stream/promises'
import { Transform, type Readable } from 'node:stream'
import { createGzip, gzipSync } from 'node:zlib'
import tar from 'tar-stream'
import type { DeployContext } from '../context.js'
import type { RemoteLayout } from '../layout.js'
import { sh, type ShellCode } from '../shell.js'
import {
  ALWAYS_EXCLUDED,
  excludeMatcher,
  manifestDelta,
  parseManifest,
  planTransfer,
  scanSource,
  type FileEntry,
  type Manifest,
  type TreeEntry
} from '../source-tree.js'
import type { Strategy } from '../settings.js'

/** Base name of the in-place strategy's pristine copy of the last deployed tree. */
const IN_PLACE_TREE = 'tree'
/** Small files are read whole; larger ones streamed. */
const SMALL_FILE = 256 * 1024
/** gzip level: fast enough not to be the bottleneck on loopback, still halves text on a WAN. */
const GZIP_LEVEL = 1

/** Where a tree's manifest is kept on the host. */
export function manifestPath(layout: RemoteLayout, name: string): string {
  return `${layout.deployDir}/manifests/${name}.tsv`
}

/** The directory the next release is built in before it is complete. */
export function stagingDir(layout: RemoteLayout, strategy: Strategy, release: string): string {
  return strategy === 'releases'
    ? `${layout.releasesDir}/.staging-${release}`
    : `${layout.deployDir}/staging`
}

/**
 * One round trip that reports the live release, its SHA, the existing releases, and the manifest
 * of the base tree unchanged files can be copied from (the live release unless it is bad or has no
 * manifest, else the newest good one).
 */
export function inspectScript(
  layout: RemoteLayout,
  strategy: Strategy,
  stampFile: string
): ShellCode {
  if (strategy === 'in-place') {
    return sh`cd -- ${layout.target} 2>/dev/null || exit 0
rm -rf -- ${layout.deployDir}/staging
if [ -f ${stampFile} ]; then printf 'current-sha %s\n' "$(head -c 200 -- ${stampFile})"; fi
if [ -d ${`${layout.deployDir}/${IN_PLACE_TREE}`} ] && [ -f ${manifestPath(layout, IN_PLACE_TREE)} ]; then
  printf 'base %s\nmanifest\n' ${IN_PLACE_TREE}; cat -- ${manifestPath(layout, IN_PLACE_TREE)}
fi`
  }
  return sh`cd -- ${layout.target} 2>/dev/null || exit 0
current=$(readlink current 2>/dev/null || true)
current=\${current#releases/}
printf 'current %s\n' "$current"
if [ -n "$current" ] && [ -f "releases/$current/"${stampFile} ]; then
  printf 'current-sha %s\n' "$(head -c 200 -- "releases/$current/"${stampFile})"
fi
for dir in releases/*/; do
  [ -d "$dir" ] || continue
  name=\${dir#releases/}; printf 'release %s\n' "\${name%/}"
done
usable() { [ -n "$1" ] && [ -d "releases/$1" ] && [ -f ".deploy/manifests/$1.tsv" ] && [ ! -e "releases/$1/BAD_RELEASE" ]; }
base=
if usable "$current"; then base=$current; else
  for name in $(ls -1r releases 2>/dev/null); do if usable "$name"; then base=$name; break; fi; done
fi
if [ -n "$base" ]; then printf 'base %s\nmanifest\n' "$base"; cat -- ".deploy/manifests/$base.tsv"; fi`
}

export interface HostInspection {
  current?: string
  currentSha?: string
  releases: string[]
  base?: string
  manifest?: Manifest
}

/** Reads the inspect script's report; everything after the `manifest` line is the base manifest. */
export function parseInspection(stdout: string): HostInspection {
  const inspection: HostInspection = { releases: [] }
  const marker = stdout.search(/^manifest$/m)
  const head = marker < 0 ? stdout : stdout.slice(0, marker)
  for (const line of head.split('\n')) {
    const space = line.indexOf(' ')
    const key = space < 0 ? line : line.slice(0, space)
    const value = space < 0 ? '' : line.slice(space + 1)
    if (key === 'current' && value) inspection.current = value
    else if (key === 'current-sha' && value.trim()) inspection.currentSha = value.trim()
    else if (key === 'release') inspection.releases.push(value)
    else if (key === 'base' && value) inspection.base = value
  }
  if (marker >= 0) inspection.manifest = parseManifest(stdout.slice(marker + 'manifest\n'.length))
  return inspection
}

/**
 * Copies a tree on the host with a tar pipe (real copies, never hard links): the whole of `from`,
 * or only the files of the gzip-compressed, NUL-separated `./path` list on stdin. Fails if either
 * side of the pipe fails.
 */
export function tarCopyScript(from: string, to: string, listOnStdin: boolean): ShellCode {
  const source = listOnStdin ? sh`gzip -dc | tar --null -T - -cf -` : sh`tar -cf - .`
  return sh`mkdir -p -- ${to} || exit 1
status=$(mktemp) || exit 1
{ (cd -- ${from} && ${source}); echo $? > "$status"; } | (cd -- ${to} && tar -xpf - --no-same-owner)
extracted=$?
read copied < "$status"; rm -f -- "$status"
[ "$copied" = 0 ] && [ "$extracted" = 0 ]`
}

/** Unpacks the gzip tar stream on stdin into staging. */
export function extractScript(staging: string): ShellCode {
  return sh`mkdir -p -- ${staging} && cd -- ${staging} && tar -xzpf - --no-same-owner`
}

/**
 * Writes the new tree's manifest from the base one plus the delta on stdin (so an incremental
 * deploy sends only the changed lines), then, for releases, moves the complete staging dir into place.
 */
export function finishUploadScript(
  layout: RemoteLayout,
  staging: string,
  finalDir: string,
  base: string | undefined,
  name: string
): ShellCode {
  const manifest = manifestPath(layout, name)
  const temporary = `${manifest}.tmp`
  const merge = base
    ? sh`awk -F '\t' 'NR == FNR { if ($1 == "#delta") next; if ($1 == "-") drop[$2] = 1; else add[$4] = $0; next } !($4 in drop) && !($4 in add) { print } END { for (path in add) print add[path] }' - ${manifestPath(layout, base)}`
    : sh`grep -v '^#delta'`
  const move = staging === finalDir ? sh`true` : sh`mv -- ${staging} ${finalDir}`
  return sh`mkdir -p -- ${`${layout.deployDir}/manifests`} && ${merge} > ${temporary} && mv -f -- ${temporary} ${manifest} && ${move}`
}

type EntryHeader = Partial<tar.Header> & { name: string }

/** A gzip tar stream of every dir and symlink plus the files to send; counts bytes on the wire. */
export function packTree(
  entries: TreeEntry[],
  send: Set<string>
): { stream: Readable; wireBytes: () => number } {
  const pack = tar.pack()
  const add = (headers: EntryHeader, body?: Buffer): Promise<EntryHeader> =>
    new Promise((resolve, reject) => {
      const done = (error?: Error | null): void => (error ? reject(error) : resolve(headers))
      if (body) pack.entry(headers, body, done)
      else pack.entry(headers, done)
    })
  const fill = async (): Promise<void> => {
    for (const entry of entries) {
      const common = { name: entry.path, mode: entry.mode, mtime: entry.mtime, uid: 0, gid: 0 }
      if (entry.type === 'dir') await add({ ...common, type: 'directory' })
      else if (entry.type === 'symlink')
        await add({ ...common, type: 'symlink', linkname: entry.target })
      else if (send.has(entry.path)) {
        if (entry.size <= SMALL_FILE) {
          await add({ ...common, type: 'file', size: entry.size }, await readFile(entry.absolute))
        } else {
          await new Promise<void>((resolve, reject) => {
            const sink = pack.entry({ ...common, type: 'file', size: entry.size }, error =>
              error ? reject(error) : resolve()
            )
            pipeline(createReadStream(entry.absolute), sink).catch(reject)
          })
        }
      }
    }
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
  pack.pipe(createGzip({ level: GZIP_LEVEL })).pipe(counted)
  return { stream: counted, wireBytes: () => wire }
}

function uniqueRelease(wanted: string, existing: string[]): string {
  let name = wanted
  for (let n = 2; existing.includes(name); n++) name = `${wanted}-${n}`
  return name
}

const under = (paths: string[]) => (path: string) =>
  paths.some(shared => path === shared || path.startsWith(`${shared}/`))

/** upload: build the new tree in staging from unchanged files on the host plus one tar stream. */
export async function upload(ctx: DeployContext): Promise<void> {
  const { settings, session, layout, report } = ctx
  const remote = session.remote
  const isShared = under(settings.sharedPaths)
  const excluded = excludeMatcher([...ALWAYS_EXCLUDED, ...settings.exclude])
  // In place, shared paths are the host's own: never shipped, never touched by the sync.
  const skip =
    settings.strategy === 'in-place'
      ? (path: string, isDir: boolean) => excluded(path, isDir) || isShared(path)
      : excluded
  const [entries, inspected] = await Promise.all([
    scanSource(settings.source, skip),
    remote.run(inspectScript(layout, settings.strategy, settings.stampFile), {
      phase: 'upload',
      timeoutSeconds: 60
    })
  ])
  const host = parseInspection(inspected.stdout)
  ctx.previousRelease = host.current
  ctx.previousSha = host.currentSha
  ctx.existingReleases = host.releases
  report.previousRelease = host.current
  report.previousSha = host.currentSha

  const releases = settings.strategy === 'releases'
  const name = releases ? uniqueRelease(ctx.release, host.releases) : IN_PLACE_TREE
  if (releases) {
    ctx.release = name
    ctx.releaseDir = `${layout.releasesDir}/${name}`
  }
  report.release = ctx.release
  const staging = stagingDir(layout, settings.strategy, name)
  const manifestName = releases ? name : 'staging'

  // Files under shared paths become symlinks in a release, so they are never copied from one.
  const transferable = host.manifest && {
    files: new Map([...host.manifest.files].filter(([path]) => !isShared(path)))
  }
  const { send, copy } = planTransfer(entries, transferable)
  const baseDir =
    host.base &&
    (releases ? `${layout.releasesDir}/${host.base}` : `${layout.deployDir}/${IN_PLACE_TREE}`)
  const packed = packTree(entries, new Set(send.map(entry => entry.path)))
  const timeoutSeconds = 3600
  await Promise.all([
    copy.length > 0 && baseDir
      ? remote.run(tarCopyScript(baseDir, staging, true), {
          phase: 'upload',
          timeoutSeconds,
          stdin: gzipSync(copy.map(entry => `./${entry.path}\0`).join(''))
        })
      : undefined,
    remote.run(extractScript(staging), { phase: 'upload', timeoutSeconds, stdin: packed.stream })
  ])
  const files = entries.filter(
    (entry): entry is FileEntry => entry.type === 'file' && !isShared(entry.path)
  )
  const delta = manifestDelta(files, transferable)
  await remote.run(
    finishUploadScript(
      layout,
      staging,
      releases ? ctx.releaseDir : staging,
      transferable && host.base,
      manifestName
    ),
    {
      phase: 'upload',
      timeoutSeconds: 60,
      stdin: Buffer.from(delta)
    }
  )
  if (!releases) ctx.releaseDir = staging

  const sentBytes = send.reduce((sum, entry) => sum + entry.size, 0)
  report.uploadedFiles = send.length
  report.uploadedBytes = sentBytes
  core.info(
    `Sent ${send.length} file(s), ${sentBytes} bytes (${packed.wireBytes()} bytes gzip on the wire); ` +
      (copy.length > 0
        ? `copied ${copy.length} unchanged file(s) from ${host.base} on the host.`
        : 'nothing reused (first deploy or no usable base).')
  )
}

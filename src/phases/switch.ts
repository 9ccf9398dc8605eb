import * as core from '@actions/core'
import type { DeployContext } from '../context.js'
import type { RemoteLayout } from '../layout.js'
import { sh, type ShellCode } from '../shell.js'
import { ALWAYS_EXCLUDED, excludeMatcher } from '../source-tree.js'
import { clearBytecodeScript } from './bytecode.js'
import { manifestPath, tarCopyScript } from './upload.js'

/** Atomically repoints `current`: a new symlink renamed over the old one. */
export function switchCurrentScript(
  layout: RemoteLayout,
  release: string,
  token: string
): ShellCode {
  const temporary = `${layout.deployDir}/current.tmp-${token}`
  return sh`ln -sfn -- ${`releases/${release}`} ${temporary} && mv -Tf -- ${temporary} ${layout.current}`
}

/** Appends one JSON line to `.deploy/releases.log`. */
export function releasesLogScript(layout: RemoteLayout, entry: Record<string, unknown>): ShellCode {
  return sh`printf '%s\n' ${JSON.stringify(entry)} >> ${layout.releasesLog}`
}

/**
 * Lists the staged tree and the live one (minus `.deploy` and shared paths) as NUL-separated
 * `<type> <path>` records, the two lists split by an empty record.
 */
export function listTreesScript(staging: string, target: string, sharedPaths: string[]): ShellCode {
  const kept = ['./.deploy', ...sharedPaths.map(path => `./${path}`)].flatMap((path, index) =>
    index === 0 ? ['-path', path] : ['-o', '-path', path]
  )
  return sh`(cd -- ${staging} && find . -mindepth 1 -printf '%y %P\0') || exit 1
printf '\0'
cd -- ${target} && find . -mindepth 1 \( ${kept} \) -prune -o -printf '%y %P\0'`
}

/** Splits the listing into staged and live path → find type letter. */
export function parseTreeListing(stdout: string): {
  staged: Map<string, string>
  live: Map<string, string>
} {
  const staged = new Map<string, string>()
  const live = new Map<string, string>()
  let into = staged
  for (const record of stdout.split('\0')) {
    if (record === '') {
      into = live
      continue
    }
    into.set(record.slice(2), record[0])
  }
  return { staged, live }
}

/**
 * `--delete` semantics for the in-place sync: live paths the new tree lacks (or has with another
 * type) go, except excluded paths, `.deploy`, shared paths and their parent directories.
 */
export function pathsToDelete(
  staged: Map<string, string>,
  live: Map<string, string>,
  exclude: string[],
  sharedPaths: string[]
): string[] {
  const excluded = excludeMatcher([...ALWAYS_EXCLUDED, ...exclude])
  const isSharedParent = (path: string) => sharedPaths.some(shared => shared.startsWith(`${path}/`))
  const deleted: string[] = []
  for (const path of [...live.keys()].sort()) {
    const type = live.get(path) as string
    if (deleted.some(parent => path.startsWith(`${parent}/`))) continue
    const isDir = type === 'd'
    if (excluded(path, isDir) || isSharedParent(path)) continue
    if (staged.get(path) !== type) deleted.push(path)
  }
  return deleted
}

function logEntry(ctx: DeployContext): Record<string, unknown> {
  return {
    time: new Date().toISOString(),
    event: 'deploy',
    release: ctx.release,
    sha: ctx.sha,
    previous_release: ctx.previousRelease ?? null,
    previous_sha: ctx.previousSha ?? null,
    run: ctx.run
  }
}

/** The NUL-separated list of live paths the in-place switch deletes, written before the stop. */
const deletionList = (ctx: DeployContext): string => `${ctx.layout.deployDir}/sync-delete`

/**
 * Plans the in-place sync while the old service still serves (part of prepare): lists both trees
 * and leaves on the host the paths the switch will delete, so the switch itself is one host command.
 */
export async function planInPlaceSync(ctx: DeployContext): Promise<void> {
  const { settings, session, layout } = ctx
  const listing = await session.remote.run(
    listTreesScript(ctx.releaseDir, layout.target, settings.sharedPaths),
    { phase: 'prepare', timeoutSeconds: 120 }
  )
  const { staged, live } = parseTreeListing(listing.stdout)
  const doomed = pathsToDelete(staged, live, settings.exclude, settings.sharedPaths)
  await session.remote.run(sh`cat > ${deletionList(ctx)}`, {
    phase: 'prepare',
    timeoutSeconds: 120,
    stdin: Buffer.from(doomed.map(path => `./${path}\0`).join(''))
  })
  core.info(`In-place sync planned: ${doomed.length} path(s) the source no longer has will go`)
}

/** switch (in place), a host-step body: sync staging into the live tree, clear bytecode there, keep staging as the base. */
function syncInPlaceBody(ctx: DeployContext): ShellCode {
  const { settings, layout } = ctx
  const staging = ctx.releaseDir
  const doomed = deletionList(ctx)
  const tree = `${layout.deployDir}/tree`
  const keep = [layout.deployDir, ...settings.sharedPaths.map(path => `${layout.target}/${path}`)]
  const bytecode = settings.clearPycache
    ? sh`cleared=$(${clearBytecodeScript(layout.target, keep)}) || exit 1
printf 'Cleared bytecode in %s: %s .pyc/.pyo file(s)\n' ${layout.target} "$cleared"`
    : sh``
  return sh`if [ -s ${doomed} ]; then (cd -- ${layout.target} && xargs -0 rm -rf -- < ${doomed}) || exit 1; fi
removed=$(tr -cd '\000' < ${doomed} | wc -c)
${tarCopyScript(staging, layout.target)} || exit 1
printf 'Synced the new tree into %s; removed %s path(s) the source no longer has\n' ${layout.target} "$((removed))"
${bytecode}
rm -rf -- ${tree} && mv -- ${staging} ${tree} && mv -f -- ${manifestPath(layout, 'staging')} ${manifestPath(layout, 'tree')} && rm -f -- ${doomed} || exit 1
${releasesLogScript(layout, logEntry(ctx))} || exit 1`
}

/** switch, a host-step body: make the new tree live. */
export function switchBody(ctx: DeployContext, token: string): ShellCode {
  if (ctx.settings.strategy === 'in-place') return syncInPlaceBody(ctx)
  const { layout } = ctx
  return sh`${switchCurrentScript(layout, ctx.release, token)} && ${releasesLogScript(layout, logEntry(ctx))} || exit 1
printf '%s -> releases/%s\n' ${layout.current} ${ctx.release}`
}

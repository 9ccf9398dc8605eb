import type { DeployContext } from '../model/context.js'
import { insideTarget, relativeToTarget, type RemoteLayout } from '../remote/layout.js'
import SYNC_SCRIPT from '../host/sync.sh'
import { joinCode, sh, withInputs, type ShellCode } from '../remote/shell.js'
import { excludeMatcher } from '../source/source-tree.js'
import { clearBytecodeScript } from './bytecode.js'
import { IN_PLACE_TREE, manifestPath, TREE_FUNCTIONS } from './upload.js'
import { info } from '../report/host-text.js'
import { COMMAND_SECONDS } from '../model/budgets.js'
import { strategyOf } from '../model/strategy.js'

/** Atomically repoints `current`: a new symlink renamed over the old one. */
export function switchCurrentScript(
  layout: RemoteLayout,
  release: string,
  token: string
): ShellCode {
  const temporary = `${layout.deployDir}/current.tmp-${token}`
  return sh`ln -sfn -- ${`releases/${release}`} ${temporary} && mv -Tf -- ${temporary} ${layout.current}`
}

/**
 * Appends one JSON line to `.deploy/releases.log`. It is history, not state: a write that fails
 * (a full disk) is said, and the switch goes on.
 */
export function releasesLogScript(layout: RemoteLayout, entry: Record<string, unknown>): ShellCode {
  return sh`{ printf '%s\n' ${JSON.stringify(entry)} 2>/dev/null >> ${layout.releasesLog} || printf 'could not append to %s (the disk may be full)\n' ${layout.releasesLog}; }`
}

/**
 * Lists three trees as NUL-separated `<type> <path>` records, each list ended by an empty record:
 * the staged tree, the tree the last deploy shipped (`shipped`, empty before the first deploy), and
 * the live one (minus `.deploy` and shared paths).
 */
export function listTreesScript(
  staging: string,
  shipped: string,
  target: string,
  sharedPaths: string[]
): ShellCode {
  const kept = ['./.deploy', ...sharedPaths.map(path => `./${path}`)].flatMap((path, index) =>
    index === 0 ? ['-path', path] : ['-o', '-path', path]
  )
  return sh`(cd -- ${staging} && find . -mindepth 1 -printf '%y %P\0') || exit 1
printf '\0'
if [ -d ${shipped} ]; then (cd -- ${shipped} && find . -mindepth 1 -printf '%y %P\0') || exit 1; fi
printf '\0'
cd -- ${target} && find . -mindepth 1 \( ${kept} \) -prune -o -printf '%y %P\0'`
}

/** The three listings: path → find type letter. */
export interface TreeListing {
  staged: Map<string, string>
  shipped: Map<string, string>
  live: Map<string, string>
}

export function parseTreeListing(stdout: string): TreeListing {
  const lists = [new Map<string, string>(), new Map<string, string>(), new Map<string, string>()]
  let index = 0
  for (const record of stdout.split('\0')) {
    if (record === '') {
      index = Math.min(index + 1, 2)
      continue
    }
    lists[index].set(record.slice(2), record[0])
  }
  const [staged, shipped, live] = lists
  return { staged, shipped, live }
}

/** What the in-place switch removes, and what it leaves because no deploy shipped it. */
export interface InPlaceDeletions {
  /** Files and symlinks an earlier deploy shipped that the source no longer has. */
  files: string[]
  /** Directories an earlier deploy shipped that end up empty, deepest first. */
  dirs: string[]
  /** Paths the source lacks that no deploy shipped, collapsed to their topmost directory (`dir/`). */
  notOurs: string[]
}

/**
 * In place, only what an earlier deploy shipped (and the source no longer has, or has with another
 * type) is removed; the host's own files (a database, `.env`, a venv, `.ssh`) are never touched.
 * Excluded paths, `.deploy`, shared paths and their parents are left out entirely. Throws when the
 * new tree needs a path that holds files no deploy shipped.
 */
export function planInPlaceDeletions(
  { staged, shipped, live }: TreeListing,
  exclude: string[],
  sharedPaths: string[]
): InPlaceDeletions {
  const excludedBy = excludeMatcher(exclude)
  const isSharedParent = (path: string) => sharedPaths.some(shared => shared.startsWith(`${path}/`))
  const below = (parents: string[], path: string) =>
    parents.some(parent => path.startsWith(`${parent}/`))
  const skipped: string[] = []
  const notOursDirs: string[] = []
  const deletions: InPlaceDeletions = { files: [], dirs: [], notOurs: [] }
  const keptInside = new Set<string>()
  for (const path of [...live.keys()].sort()) {
    const type = live.get(path) as string
    if (below(skipped, path)) continue
    if (excludedBy(path, type === 'd') || isSharedParent(path)) {
      if (type === 'd') skipped.push(path)
      continue
    }
    if (staged.get(path) === type) continue
    if (shipped.get(path) === type) {
      if (type === 'd') deletions.dirs.push(path)
      else deletions.files.push(path)
      continue
    }
    if (below(notOursDirs, path)) continue
    if (type === 'd') notOursDirs.push(path)
    deletions.notOurs.push(type === 'd' ? `${path}/` : path)
    for (let parent = path; parent.includes('/');) {
      parent = parent.slice(0, parent.lastIndexOf('/'))
      keptInside.add(parent)
    }
    if (staged.has(path)) {
      throw new Error(
        `in-place: the new tree has a ${staged.get(path) === 'd' ? 'directory' : 'file'} at ${path}, where the host has a ${type === 'd' ? 'directory' : 'file'} no deploy shipped. ` +
          'Move it out of the target (or add it to exclude), then deploy again. Nothing was stopped.'
      )
    }
  }
  for (const dir of deletions.dirs) {
    if (keptInside.has(dir) && staged.has(dir)) {
      throw new Error(
        `in-place: the new tree has a file at ${dir}, where the host has a directory holding files no deploy shipped. ` +
          'Move them out of the target, then deploy again. Nothing was stopped.'
      )
    }
  }
  deletions.dirs = deletions.dirs.filter(dir => !keptInside.has(dir)).reverse()
  return deletions
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

/** NUL-separated lists the in-place switch removes (files, then directories), written in prepare. */
const removalLists = (layout: RemoteLayout) => ({
  files: `${layout.deployDir}/sync-delete`,
  dirs: `${layout.deployDir}/sync-rmdir`
})

const nulList = (paths: string[]) => Buffer.from(paths.map(path => `./${path}\0`).join(''))

/** How many of `paths` a log line names before it says "and N more". */
const LISTED = 20

const listed = (paths: string[]) =>
  paths.slice(0, LISTED).join(', ') +
  (paths.length > LISTED ? ` and ${paths.length - LISTED} more` : '')

/**
 * Plans the in-place sync while the old service still serves (part of prepare): lists the trees
 * and leaves on the host the paths the switch will remove, so the switch itself is one host command.
 */
export async function planInPlaceSync(ctx: DeployContext): Promise<void> {
  const { settings, session, layout } = ctx
  const listing = await session.remote.run(
    listTreesScript(
      ctx.releaseDir,
      `${layout.deployDir}/${IN_PLACE_TREE}`,
      layout.target,
      settings.sharedPaths
    ),
    { phase: 'prepare', timeoutSeconds: COMMAND_SECONDS.tree }
  )
  const plan = planInPlaceDeletions(
    parseTreeListing(listing.stdout),
    settings.exclude,
    settings.sharedPaths
  )
  const lists = removalLists(layout)
  await session.remote.run(sh`cat > ${lists.files}`, {
    phase: 'prepare',
    timeoutSeconds: COMMAND_SECONDS.tree,
    stdin: nulList(plan.files)
  })
  await session.remote.run(sh`cat > ${lists.dirs}`, {
    phase: 'prepare',
    timeoutSeconds: COMMAND_SECONDS.tree,
    stdin: nulList(plan.dirs)
  })
  info(
    `In-place sync planned: ${plan.files.length + plan.dirs.length} path(s) an earlier deploy shipped and the source no longer has will go`
  )
  if (plan.notOurs.length > 0) {
    info(
      `Not ours, kept: ${plan.notOurs.length} path(s) in ${layout.target} that the source does not have and no deploy shipped: ${listed(plan.notOurs)}`
    )
  }
}

/** switch (in place), a host-step body (sync.sh): sync staging into the live tree, clear bytecode there, keep staging as the base. */
function syncInPlaceBody(ctx: DeployContext): ShellCode {
  const { settings } = ctx
  const layout = relativeToTarget(ctx.layout)
  const lists = removalLists(layout)
  const keep = [layout.deployDir, ...settings.sharedPaths.map(path => `./${path}`)]
  const bytecode = settings.clearPycache
    ? sh`cleared=$(${clearBytecodeScript('.', keep)}) || return 1
printf 'Cleared bytecode in %s: %s .pyc/.pyo file(s)\n' ${layout.target} "$cleared"`
    : sh`:`
  return joinCode([
    TREE_FUNCTIONS,
    sh`clear_bytecode() {
${bytecode}
}
releases_log() { ${releasesLogScript(layout, logEntry(ctx))}; }`,
    withInputs(SYNC_SCRIPT, {
      sync_target: layout.target,
      sync_files: lists.files,
      sync_dirs: lists.dirs,
      sync_staging: insideTarget(layout.target, ctx.releaseDir),
      sync_tree: `${layout.deployDir}/${IN_PLACE_TREE}`,
      sync_manifest_staging: manifestPath(layout, 'staging'),
      sync_manifest_tree: manifestPath(layout, 'tree')
    })
  ])
}

/** switch, a host-step body: make the new tree live. */
export function switchBody(ctx: DeployContext, token: string): ShellCode {
  if (!strategyOf(ctx.settings).keepsReleases) return syncInPlaceBody(ctx)
  const layout = relativeToTarget(ctx.layout)
  return sh`${switchCurrentScript(layout, ctx.release, token)} || exit 1
${releasesLogScript(layout, logEntry(ctx))}
printf '%s -> releases/%s\n' ${ctx.layout.current} ${ctx.release}`
}

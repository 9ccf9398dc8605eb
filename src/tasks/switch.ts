import type { DeployContext } from '../model/context.js'
import { sh } from '../remote/shell.js'
import { excludeMatcher } from '../source/source-tree.js'
import { IN_PLACE_TREE } from '../commands/upload.js'
import { info } from '../report/host-text.js'
import { COMMAND_SECONDS } from '../model/budgets.js'
import {
  listTreesScript,
  removalLists,
  type TreeListing,
  parseTreeListing
} from '../commands/switch.js'

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

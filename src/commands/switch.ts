import type { DeployContext } from '../model/context.js'
import { insideTarget, relativeToTarget, type RemoteLayout } from '../remote/layout.js'
import SYNC_SCRIPT from '../host/restart/sync.sh'
import { sh, withInputs, type ShellCode } from '../remote/shell.js'
import { clearBytecodeScript } from './bytecode.js'
import { IN_PLACE_TREE, manifestPath } from './upload.js'
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
  return sh`log_release ${layout.releasesLog} ${JSON.stringify(entry)}`
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
export const removalLists = (layout: RemoteLayout) => ({
  files: `${layout.deployDir}/sync-delete`,
  dirs: `${layout.deployDir}/sync-rmdir`
})

/** switch (in place), a host-step body (sync.sh): sync staging into the live tree, clear bytecode there, keep staging as the base. */
function syncInPlaceBody(ctx: DeployContext): ShellCode {
  const { settings } = ctx
  const layout = relativeToTarget(ctx.layout)
  const lists = removalLists(layout)
  const keep = [layout.deployDir, ...settings.sharedPaths.map(path => `./${path}`)]
  return withInputs(SYNC_SCRIPT, {
    sync_target: layout.target,
    sync_files: lists.files,
    sync_dirs: lists.dirs,
    sync_staging: insideTarget(layout.target, ctx.releaseDir),
    sync_tree: `${layout.deployDir}/${IN_PLACE_TREE}`,
    sync_manifest_staging: manifestPath(layout, 'staging'),
    sync_manifest_tree: manifestPath(layout, 'tree'),
    sync_clear_bytecode: settings.clearPycache ? clearBytecodeScript('.', keep).text : '',
    sync_releases_log: layout.releasesLog,
    sync_log_line: JSON.stringify(logEntry(ctx))
  })
}

/** switch, a host-step body: make the new tree live. */
export function switchBody(ctx: DeployContext, token: string): ShellCode {
  if (!strategyOf(ctx.settings).keepsReleases) return syncInPlaceBody(ctx)
  const layout = relativeToTarget(ctx.layout)
  return sh`${switchCurrentScript(layout, ctx.release, token)} || exit 1
${releasesLogScript(layout, logEntry(ctx))}
printf '%s -> releases/%s\n' ${ctx.layout.current} ${ctx.release}`
}

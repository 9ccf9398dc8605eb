import { hostLibrary } from '../remote/host-library.js'
import { relativeToTarget, UNVERIFIED_MARK, type RemoteLayout } from '../remote/layout.js'
import INSPECT_SCRIPT from '../host/upload/inspect.sh'
import RECEIVE_SCRIPT from '../host/upload/receive.sh'
import { joinCode, sh, ShellCode, withInputs } from '../remote/shell.js'
import { parseManifest, type Manifest } from '../source/source-tree.js'
import type { Strategy } from '../inputs/settings.js'
import { answerLine, answerOf, answersOf } from '../remote/protocol.js'

/** Base name of the in-place strategy's pristine copy of the last deployed tree. */
export const IN_PLACE_TREE = 'tree'

/** Where a tree's manifest is kept on the host. */
export function manifestPath(layout: RemoteLayout, name: string): string {
  return `${layout.deployDir}/manifests/${name}.tsv`
}

/** The inputs the inspection and the receiving side share (inspect.sh, receive.sh). */
function uploadInputs(layout: RemoteLayout, strategy: Strategy, stampFile: string) {
  const here = relativeToTarget(layout)
  return {
    up_target: layout.target,
    up_strategy: strategy,
    up_stamp: stampFile,
    up_deploy: here.deployDir,
    up_manifests: `${here.deployDir}/manifests`,
    up_tree: IN_PLACE_TREE
  }
}

/**
 * One round trip (inspect.sh) that reports free space, the live release, its SHA, the existing
 * releases, and the manifest of the base tree unchanged files can be copied from.
 */
export function inspectScript(
  layout: RemoteLayout,
  strategy: Strategy,
  stampFile: string
): ShellCode {
  return sh`(
${withInputs(INSPECT_SCRIPT, uploadInputs(layout, strategy, stampFile))}
)`
}

export interface HostInspection {
  current?: string
  currentSha?: string
  releases: string[]
  base?: string
  manifest?: Manifest
  /** Free space where the tree will be built, in KiB, when df could tell. */
  freeKb?: number
}

/** Reads the inspect script's report; everything after the `manifest` line is the base manifest. */
export function parseInspection(stdout: string): HostInspection {
  const marker = stdout.search(answerLine('manifest'))
  const head = marker < 0 ? stdout : stdout.slice(0, marker)
  const freeKb = answerOf(head, 'free-kb')
  const inspection: HostInspection = {
    releases: answersOf(head, 'release'),
    current: answerOf(head, 'current') || undefined,
    currentSha: answerOf(head, 'current-sha')?.trim() || undefined,
    base: answerOf(head, 'base') || undefined,
    freeKb: freeKb && /^\d+$/.test(freeKb) ? Number(freeKb) : undefined
  }
  if (marker >= 0) inspection.manifest = parseManifest(stdout.slice(marker + 'manifest\n'.length))
  return inspection
}

/** The upload's own files, sent after the tree in the same stream. */
export const COPY_LIST = 'meta/copy'

export const MANIFEST_DELTA = 'meta/manifest-delta'

/** The line between the host's report and the upload, in the upload command's output. */
export const INSPECTION_END = 'end-of-inspection'

/**
 * The whole host side of an upload in one command (each command costs round trips and a login
 * shell): the inspection, then the receiving side (receive.sh), which unpacks the stream that
 * follows and moves the complete tree into place.
 */
export function uploadScript(
  layout: RemoteLayout,
  strategy: Strategy,
  stampFile: string,
  token: string
): ShellCode {
  return joinCode([
    // The journal says which run made the release: the post step removes only its own.
    hostLibrary({ file: relativeToTarget(layout).journal, token }),
    inspectScript(layout, strategy, stampFile),
    withInputs(RECEIVE_SCRIPT, {
      ...uploadInputs(layout, strategy, stampFile),
      up_releases: relativeToTarget(layout).releasesDir,
      up_inspection_end: INSPECTION_END,
      up_unverified: UNVERIFIED_MARK,
      up_copy_list: COPY_LIST,
      up_delta: MANIFEST_DELTA
    })
  ])
}

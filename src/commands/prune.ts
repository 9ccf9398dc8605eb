import { relativeToTarget, type RemoteLayout } from '../remote/layout.js'
import PRUNE_VENVS_SCRIPT from '../host/prune/prune-venvs.sh'
import { joinCode, sh, withInputs, type ShellCode } from '../remote/shell.js'
import { IN_PLACE_TREE, manifestPath } from './upload.js'
import { venvsDir } from './venv.js'

/** Deletes the given releases and their manifests (the upload clears leftover staging trees). */
export function pruneScript(layout: RemoteLayout, doomed: string[]): ShellCode {
  const here = relativeToTarget(layout)
  return joinCode([
    sh`cd -- ${layout.target} || exit 1`,
    ...doomed.map(
      name => sh`rm -rf -- ${`${here.releasesDir}/${name}`} ${manifestPath(here, name)}`
    )
  ])
}

/**
 * Deletes a failed deploy's own release (and its manifest) unless `current` names it (a rollback
 * that did not hold), so `keep-releases` holds on every path. Prints `discarded` when it did.
 */
export function discardReleaseScript(
  layout: RemoteLayout,
  release: string,
  madeBy?: string
): ShellCode {
  const here = relativeToTarget(layout)
  const dir = `${here.releasesDir}/${release}`
  // The post step (madeBy: the run's lock token) removes a release only if the journal says that
  // run uploaded it: what it read from its saved state does not decide alone.
  const ours = madeBy
    ? sh` && grep -qF -- ${` ${madeBy} uploaded ${release}`} 2>/dev/null < ${here.journal}`
    : sh``
  return sh`cd -- ${layout.target} || exit 1
if [ "$(readlink current 2>/dev/null)" != ${`releases/${release}`} ] && [ -d ${dir} ]${ours}; then
  rm -rf -- ${dir} ${manifestPath(here, release)} && echo discarded
fi`
}

/**
 * Deletes the venvs no remaining tree links to (a kept release, the live target in place, its
 * pristine copy), so the live one is always kept. Prints `removed-venv KEY` for each.
 */
export function pruneVenvsScript(layout: RemoteLayout): ShellCode {
  const here = relativeToTarget(layout)
  return withInputs(PRUNE_VENVS_SCRIPT, {
    pv_target: layout.target,
    pv_venvs: venvsDir(here),
    pv_venvs_abs: venvsDir(layout),
    pv_releases: here.releasesDir,
    pv_base_link: `${here.deployDir}/${IN_PLACE_TREE}/.venv`
  })
}

import type { DeployContext } from '../model/context.js'
import { dirsAndName } from '../remote/layout.js'
import { joinCode, sh, withInputs, type ShellCode } from '../remote/shell.js'
import STAMP_SCRIPT from '../host/prepare/stamp.sh'
import LINK_SHARED_SCRIPT from '../host/prepare/link-shared.sh'
import { exportEnvScript, userCommandScript } from './environment.js'
import { hostLibrary } from '../remote/host-library.js'

/**
 * Writes the full SHA into the stamp file of the new tree, in place of whatever the repository put
 * at that name, never through a link (stamp.sh).
 */
export function stampScript(releaseDir: string, stampFile: string, sha: string): ShellCode {
  return joinCode([
    hostLibrary(),
    withInputs(STAMP_SCRIPT, {
      stamp_release: releaseDir,
      stamp_file: stampFile,
      stamp_dirs: dirsAndName(stampFile).dirs,
      stamp_name: dirsAndName(stampFile).name,
      stamp_sha: sha
    })
  ])
}

/**
 * Links each shared path of the release to `<target>/shared/<path>` (link-shared.sh): created on
 * first use, seeded from the release, or made empty when `made` names it (a directory written with
 * a trailing `/`, the env-file); never overwritten afterwards.
 */
export function linkSharedScript(
  releaseDir: string,
  sharedDir: string,
  paths: string[],
  made: { dirs: string[]; files: string[] } = { dirs: [], files: [] }
): ShellCode {
  return withInputs(LINK_SHARED_SCRIPT, {
    link_release: releaseDir,
    link_shared: sharedDir,
    link_paths: paths.join('\n'),
    link_dirs: made.dirs.join('\n'),
    link_files: made.files.join('\n')
  })
}

/** Prints the release's real path, then where `import module` resolves from inside it. */
export function importCheckScript(
  releaseDir: string,
  environment: ShellCode,
  python: string,
  module: string
): ShellCode {
  const probe =
    'import importlib, os, sys\n' +
    'm = importlib.import_module(sys.argv[1])\n' +
    'f = getattr(m, "__file__", None) or next(iter(getattr(m, "__path__", [])), "")\n' +
    'print(os.path.realpath(f))'
  return sh`cd -- ${releaseDir} || exit 1
${environment}
pwd -P
PYTHONDONTWRITEBYTECODE=1 ${python} -c ${probe} ${module} < /dev/null`
}

/**
 * A command of the user's run in the new tree with the deploy's environment and its venv active:
 * prepare-command, migrate-command (README, "prepare-command").
 */
export function releaseCommandScript(ctx: DeployContext, command: string): ShellCode {
  const user = { environment: exportEnvScript(ctx, ctx.releaseDir), command }
  return joinCode([
    hostLibrary(),
    sh`cd -- ${ctx.releaseDir} || exit 1
${userCommandScript(user)} < /dev/null`
  ])
}

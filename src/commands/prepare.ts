import type { DeployContext } from '../model/context.js'
import { parentOf } from '../remote/layout.js'
import { joinCode, sh, type ShellCode } from '../remote/shell.js'
import { exportEnvScript, userCommandScript } from './environment.js'

/**
 * Writes the full SHA into the stamp file of the new tree, in place of whatever the repository put
 * at that name (a symlink included: removed, then created with noclobber, which never follows a
 * link), from inside the release: a directory on the way that is a symlink is refused.
 */
export function stampScript(releaseDir: string, stampFile: string, sha: string): ShellCode {
  const parts = stampFile.split('/')
  const name = parts.pop() as string
  return sh`cd -- ${releaseDir} || exit 1
for part in ${parts}; do
  if [ -L "$part" ] || ! cd -- "$part"; then
    printf 'stamp-file: %s in the release is a symlink or not a directory, so the stamp would land outside the release; the repository must not hold it\n' ${stampFile} >&2
    exit 1
  fi
done
rm -rf -- ${name} && (set -C && printf '%s\n' ${sha} > ${name})`
}

/**
 * Links each shared path of the release to `<target>/shared/<path>`. The shared copy is created on
 * first use, seeded from the release when the source has that path; when neither has it, a path in
 * `dirs` (written with a trailing `/`) becomes an empty directory, one in `files` (the env-file) an
 * empty file, and any other is an error naming it: the service would otherwise find a directory
 * where it means to create its file (a `.env`). Never overwritten afterwards.
 */
export function linkSharedScript(
  releaseDir: string,
  sharedDir: string,
  paths: string[],
  made: { dirs: string[]; files: string[] } = { dirs: [], files: [] }
): ShellCode {
  const steps = paths.map(path => {
    const shared = `${sharedDir}/${path}`
    const inRelease = `${releaseDir}/${path}`
    const create = made.dirs.includes(path)
      ? sh`mkdir -p -- ${shared}`
      : made.files.includes(path)
        ? sh`(umask 077 && : > ${shared})`
        : sh`{ printf 'shared-paths: %s is in neither %s nor the release: add it to the repository, create it on the host, or write it with a trailing / (%s/) for an empty directory the action creates\n' ${path} ${sharedDir} ${path} >&2; exit 1; }`
    return sh`mkdir -p -- ${parentOf(shared)} ${parentOf(inRelease)} || exit 1
if [ ! -e ${shared} ] && [ ! -L ${shared} ]; then
  if [ -e ${inRelease} ] || [ -L ${inRelease} ]; then mv -- ${inRelease} ${shared}; else ${create}; fi || exit 1
  printf 'created shared path %s\n' ${path}
fi
rm -rf -- ${inRelease} && ln -s -- ${shared} ${inRelease} || exit 1`
  })
  return joinCode(steps)
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
  return sh`cd -- ${ctx.releaseDir} || exit 1
${exportEnvScript(ctx, ctx.releaseDir)}
${userCommandScript(command)} < /dev/null`
}

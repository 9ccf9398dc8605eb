import { sh, type ShellCode } from '../remote/shell.js'

/**
 * Writes stdin to `path` with mode 0600: into the shared directory when the path is under a shared
 * path (the release links it there), else into the release, in place of whatever the repository put
 * at that name (never through a link). The values come on stdin: no command line or script holds
 * them, and nothing logs them.
 */
export function envFileScript(dir: string, path: string): ShellCode {
  const parts = path.split('/')
  const name = parts.pop() as string
  return sh`cd -- ${dir} || exit 1
for part in ${parts}; do
  [ ! -L "$part" ] && mkdir -p -- "$part" && cd -- "$part" || {
    printf 'env-file: %s is a symlink or not a directory where the env file goes\n' "$part" >&2
    exit 1
  }
done
rm -rf -- ${name} && (umask 077 && set -C && cat > ${name})`
}

# shellcheck shell=sh
# Writes stdin to the env file (envFileScript, commands/env-file.ts) with mode 0600, in place of
# whatever the repository put at that name (never through a link). The values come on stdin: no
# command line or script holds them, and nothing logs them.
#
# Inputs: env_dir, where the path starts (the shared directory when the path is under a shared
# path, which the release links there; else the release); env_dirs, the path's directories
# (/-separated, may be empty), created where missing; env_name, its name. After the host library.
: "${env_dir:?}" "${env_dirs?}" "${env_name:?}"
cd -- "$env_dir" || exit 1
part=
if ! enter_dirs "$env_dirs" make; then
  printf 'env-file: %s is a symlink or not a directory where the env file goes\n' "$part" >&2
  exit 1
fi
rm -rf -- "$env_name" && (umask 077 && set -C && cat > "$env_name")

# shellcheck shell=sh
# Writes the full SHA into the stamp file of the new tree (stampScript, commands/prepare.ts), in
# place of whatever the repository put at that name (a symlink included: removed, then created with
# noclobber, which never follows a link), from inside the release: a directory on the way that is
# a symlink is refused.
#
# Inputs: stamp_release, the release; stamp_file, the stamp-file input (for messages); stamp_dirs,
# its directories (/-separated, may be empty); stamp_name, its name; stamp_sha. After the host
# library.
: "${stamp_release:?}" "${stamp_file:?}" "${stamp_dirs?}" "${stamp_name:?}" "${stamp_sha:?}"
cd -- "$stamp_release" || exit 1
if ! enter_dirs "$stamp_dirs"; then
  printf 'stamp-file: %s in the release is a symlink or not a directory, so the stamp would land outside the release; the repository must not hold it\n' "$stamp_file" >&2
  exit 1
fi
rm -rf -- "$stamp_name" && (set -C && printf '%s\n' "$stamp_sha" > "$stamp_name")

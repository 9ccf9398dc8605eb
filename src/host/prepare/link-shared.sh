# shellcheck shell=sh
# Links each shared path of the release to the shared directory (linkSharedScript,
# commands/prepare.ts). The shared copy is created on first use, seeded from the release when the
# source has that path; when neither has it, a path in link_dirs (written with a trailing /)
# becomes an empty directory, one in link_files (the env-file) an empty file, and any other is an
# error naming it: the service would otherwise find a directory where it means to create its file
# (a .env). Never overwritten afterwards.
#
# Inputs: link_release; link_shared, the shared directory; link_paths, link_dirs and link_files,
# one path per line.
: "${link_release:?}" "${link_shared:?}" "${link_paths:?}" "${link_dirs?}" "${link_files?}"
listed() { case "
$2
" in *"
$1
"*) return 0 ;; esac; return 1; }
# The loop is the script's last command: its status, an exit included, is the script's.
printf '%s\n' "$link_paths" | while IFS= read -r path; do
  shared=$link_shared/$path
  in_release=$link_release/$path
  mkdir -p -- "${shared%/*}" "${in_release%/*}" || exit 1
  if [ ! -e "$shared" ] && [ ! -L "$shared" ]; then
    if [ -e "$in_release" ] || [ -L "$in_release" ]; then
      mv -- "$in_release" "$shared"
    elif listed "$path" "$link_dirs"; then
      mkdir -p -- "$shared"
    elif listed "$path" "$link_files"; then
      (umask 077 && : > "$shared")
    else
      printf 'shared-paths: %s is in neither %s nor the release: add it to the repository, create it on the host, or write it with a trailing / (%s/) for an empty directory the action creates\n' "$path" "$link_shared" "$path" >&2
      exit 1
    fi || exit 1
    printf 'created shared path %s\n' "$path"
  fi
  rm -rf -- "$in_release" && ln -s -- "$shared" "$in_release" || exit 1
done

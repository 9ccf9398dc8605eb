# shellcheck shell=sh
# The upload's receiving side (upload.ts), after the inspection: prints up_inspection_end, reads
# two lines, the release name and the base tree's name (empty: none), and unpacks the gzip tar
# stream that follows into a box: the tree under tree/, the upload's own files under meta/, so no
# source name can collide with them. Then it copies the unchanged files listed there from the
# base, writes the manifest, and moves the complete tree into place (a release gets its
# unverified mark first).
#
# Inputs: up_target; up_strategy; up_deploy, up_manifests and up_releases inside the target;
# up_tree; up_inspection_end; up_unverified, the mark of an unverified release; up_copy_list and
# up_delta, the upload's own files in the box. Before it: the tree functions, and journal (the run's).
: "${up_target:?}" "${up_strategy:?}" "${up_deploy:?}" "${up_manifests:?}" "${up_releases:?}"
: "${up_tree:?}" "${up_inspection_end:?}" "${up_unverified:?}" "${up_copy_list:?}" "${up_delta:?}"
printf '%s\n' "$up_inspection_end"
IFS= read -r release && IFS= read -r base || exit 1
case $release in ''|*/*|.*) printf 'bad release name: %s\n' "$release" >&2; exit 1 ;; esac
cd -- "$up_target" || exit 1
if [ "$up_strategy" = releases ]; then
  box=$up_releases/.staging-$release; final=$up_releases/$release; base_dir=$up_releases/$base; manifest=$release
else
  box=$up_deploy/upload; final=$up_deploy/staging; base_dir=$up_deploy/$up_tree; manifest=staging
fi
trap 'rm -rf -- "$box"' EXIT
trap 'exit 1' HUP INT TERM PIPE
rm -rf -- "$box" && mkdir -p -- "$box/tree" && (cd -- "$box" && tar -xzpf - --no-same-owner) || exit 1
if [ -n "$base" ] && [ -s "$box/$up_copy_list" ]; then
  tar_copy "$base_dir" "$box/tree" "$box/$up_copy_list" || exit 1
fi
merge_manifest "$up_manifests" "$base" "$manifest" "$box/$up_delta" || exit 1
# The mark replaces whatever the repository put at its name (a symlink included): never written through.
if [ "$up_strategy" = releases ]; then
  rm -rf -- "$box/tree/$up_unverified" && (set -C && : > "$box/tree/$up_unverified") || exit 1
fi
mv -T -- "$box/tree" "$final" || exit 1
[ "$up_strategy" != releases ] || journal uploaded "$release"

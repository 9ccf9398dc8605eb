# shellcheck shell=sh
# The upload's inspection (upload.ts), run in a subshell: free space where the tree will be built
# (the target, or its nearest existing parent, asked from inside it); then, from the target, the
# live release, its stamp, the existing releases, and the manifest of the base tree unchanged
# files can be copied from (the live release unless it is bad or has no manifest, else the newest
# good one). In place: the live tree's stamp, and the manifest of the tree the last deploy left.
# Staging trees of uploads that were cut off go first: this run holds the lock.
#
# Inputs: up_target; up_strategy (releases or in-place); up_stamp, the stamp file; up_deploy and
# up_manifests, the .deploy directory and its manifests inside the target; up_tree, the name of
# the in-place base tree.
: "${up_target:?}" "${up_strategy:?}" "${up_stamp:?}" "${up_deploy:?}" "${up_manifests:?}" "${up_tree:?}"
dir=$up_target
while [ ! -d "$dir" ]; do dir=${dir%/*}; [ -n "$dir" ] || dir=/; done
printf 'free-kb %s\n' "$(cd -- "$dir" && df -Pk . 2>/dev/null | awk 'NR == 2 { print $4 }')"
cd -- "$up_target" 2>/dev/null || exit 0
if [ "$up_strategy" = in-place ]; then
  rm -rf -- "$up_deploy/staging" "$up_deploy/upload"
  if [ -f "$up_stamp" ]; then printf 'current-sha %s\n' "$(head -c 200 < "$up_stamp")"; fi
  if [ -d "$up_deploy/$up_tree" ] && [ -f "$up_manifests/$up_tree.tsv" ]; then
    printf 'base %s\nmanifest\n' "$up_tree"; cat < "$up_manifests/$up_tree.tsv"
  fi
  exit 0
fi
for stale in releases/.staging-*; do if [ -e "$stale" ]; then rm -rf -- "$stale"; fi; done
current=$(readlink current 2>/dev/null || true)
current=${current#releases/}
printf 'current %s\n' "$current"
if [ -n "$current" ] && [ -f "releases/$current/$up_stamp" ]; then
  printf 'current-sha %s\n' "$(head -c 200 -- "releases/$current/$up_stamp")"
fi
for dir in releases/*/; do
  [ -d "$dir" ] || continue
  name=${dir#releases/}; printf 'release %s\n' "${name%/}"
done
usable() { [ -n "$1" ] && [ -d "releases/$1" ] && [ -f "$up_manifests/$1.tsv" ] && [ ! -e "releases/$1/BAD_RELEASE" ]; }
base=
if usable "$current"; then base=$current; else
  # shellcheck disable=SC2012 # release names, made by the action
  base=$(ls -1r releases 2>/dev/null | while IFS= read -r name; do if usable "$name"; then printf '%s\n' "$name"; break; fi; done)
fi
if [ -n "$base" ]; then printf 'base %s\nmanifest\n' "$base"; cat -- "$up_manifests/$base.tsv"; fi

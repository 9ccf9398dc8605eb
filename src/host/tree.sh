# shellcheck shell=sh
# Copying trees and writing manifests on the host (upload.ts, switch.ts).
#
# - tar_copy FROM TO [LIST]: copies a tree with a tar pipe (real copies, never hard links): the
#   whole of FROM, or only the NUL-separated ./path list in the file LIST, which is opened before
#   the cd, so relative paths name the same files on both sides. Fails if either side fails.
# - merge_manifest DIR BASE NAME DELTA: writes manifest NAME (DIR/NAME.tsv) from manifest BASE
#   plus the delta file DELTA, so an incremental deploy sends only the changed lines; with BASE
#   empty, the delta is the whole manifest.
tar_copy() {
  mkdir -p -- "$2" || return 1
  copy_status=$(mktemp) || return 1
  if [ -n "${3-}" ]; then
    { (cd -- "$1" && tar --null -T - -cf -) < "$3"; echo $? > "$copy_status"; } | (cd -- "$2" && tar -xpf - --no-same-owner)
  else
    { (cd -- "$1" && tar -cf - .); echo $? > "$copy_status"; } | (cd -- "$2" && tar -xpf - --no-same-owner)
  fi
  extracted=$?
  read -r copied < "$copy_status"; rm -f -- "$copy_status"
  [ "$copied" = 0 ] && [ "$extracted" = 0 ]
}
merge_manifest() {
  mkdir -p -- "$1" && if [ -n "$2" ]; then
    awk -F '	' 'NR == FNR { if ($1 == "#delta") next; if ($1 == "-") drop[$2] = 1; else add[$4] = $0; next } !($4 in drop) && !($4 in add) { print } END { for (path in add) print add[path] }' "$4" "$1/$2.tsv"
  else sed '/^#delta/d' "$4"; fi > "$1/$3.tsv.tmp" && mv -f -- "$1/$3.tsv.tmp" "$1/$3.tsv"
}

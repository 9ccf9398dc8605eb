# shellcheck shell=sh
# switch (in place), a host-step body (switch.ts): syncs the staged tree into the live one. The
# paths prepare planned to remove (NUL-separated lists: files, then directories) go first; a
# directory the old service wrote into since prepare stays (rmdir fails), so nothing unplanned
# goes. Then the copy, the bytecode (sync_clear_bytecode), and the staged tree is kept as the base
# of the next deploy, with its manifest. Ends with the releases.log line.
#
# Inputs (syncInPlaceBody), paths inside the target: sync_target; sync_files and sync_dirs, the
# removal lists; sync_staging; sync_tree, where the base tree is kept; sync_manifest_staging and
# sync_manifest_tree, their manifests; sync_clear_bytecode, the command that clears bytecode and
# prints how many files it removed (empty: clear-pycache is off); sync_releases_log and
# sync_log_line, the releases.log line. From the host step: the host library.
: "${sync_target:?}" "${sync_files:?}" "${sync_dirs:?}" "${sync_staging:?}" "${sync_tree:?}"
: "${sync_manifest_staging:?}" "${sync_manifest_tree:?}" "${sync_clear_bytecode?}"
: "${sync_releases_log:?}" "${sync_log_line:?}"
cd -- "$sync_target" || exit 1
if [ -s "$sync_files" ]; then xargs -0 rm -f -- < "$sync_files" || exit 1; fi
if [ -s "$sync_dirs" ]; then xargs -0 rmdir -- 2>/dev/null < "$sync_dirs"; fi
removed=$(cat -- "$sync_files" "$sync_dirs" | tr -cd '\000' | wc -c)
tar_copy "$sync_staging" . || exit 1
printf 'Synced the new tree into %s; removed %s path(s) an earlier deploy shipped that the source no longer has\n' "$sync_target" "$((removed))"
if [ -n "$sync_clear_bytecode" ]; then
  cleared=$(eval "$sync_clear_bytecode") || exit 1
  printf 'Cleared bytecode in %s: %s .pyc/.pyo file(s)\n' "$sync_target" "$cleared"
fi
rm -rf -- "$sync_tree" && mv -- "$sync_staging" "$sync_tree" && mv -f -- "$sync_manifest_staging" "$sync_manifest_tree" && rm -f -- "$sync_files" "$sync_dirs" || exit 1
log_release "$sync_releases_log" "$sync_log_line"

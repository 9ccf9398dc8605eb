# shellcheck shell=sh
# Removes the managed venvs no kept tree links to (prune.ts): the releases', the live in-place
# tree's and the in-place base tree's .venv. Links hold absolute paths: each venv is compared by
# its absolute path, in the shell, since a path in a command line is what a user's pkill -f PATH
# matches. Prints `removed-venv NAME` for each.
#
# Inputs (pruneVenvsScript): pv_target; pv_venvs, the venvs directory inside the target, and
# pv_venvs_abs, the same absolute; pv_releases; pv_base_link, the base tree's .venv.
: "${pv_target:?}" "${pv_venvs:?}" "${pv_venvs_abs:?}" "${pv_releases:?}" "${pv_base_link:?}"
cd -- "$pv_target" || exit 1
[ -d "$pv_venvs" ] || exit 0
linked=$(for link in "$pv_releases"/*/.venv ./.venv "$pv_base_link"; do readlink -- "$link" 2>/dev/null; done)
for venv in "$pv_venvs"/* "$pv_venvs"/.[!.]*; do
  [ -e "$venv" ] || continue
  used=
  while IFS= read -r path; do [ "$path" != "$pv_venvs_abs/${venv##*/}" ] || used=1; done <<EOF
$linked
EOF
  [ -z "$used" ] || continue
  rm -rf -- "$venv" && printf 'removed-venv %s\n' "${venv##*/}"
done

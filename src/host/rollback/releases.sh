# shellcheck shell=sh
# What the host's releases are (operations.ts): `live NAME` (what current names; in place, the
# target itself: `live tree`), then `release NAME STATE SHA` for each kept release, oldest first
# (STATE: verified, unverified or bad; SHA: the first line of its stamp file, empty when it has
# none), and `lock OWNER` while a deploy holds the lock. Nothing at all when the target is missing.
# Files are read through redirections: a path in a command line is what pkill -f PATH matches.
#
# Inputs (releasesScript): rel_target; rel_stamp, the stamp file; rel_strategy; rel_unverified,
# the mark of an unverified release.
: "${rel_target:?}" "${rel_stamp:?}" "${rel_strategy:?}" "${rel_unverified:?}"
cd -- "$rel_target" 2>/dev/null || exit 0
stamp_of() { sha=; IFS= read -r sha 2>/dev/null < "$1/$rel_stamp"; printf '%s' "$sha" | tr -cd '0-9a-fA-F'; }
if [ "$rel_strategy" = releases ]; then
  live=$(readlink current 2>/dev/null)
  printf 'live %s\n' "${live#releases/}"
  # shellcheck disable=SC2012 # release names, made by the action
  ls -1 releases 2>/dev/null | while IFS= read -r name; do
    case $name in .*) continue ;; esac
    [ -d "releases/$name" ] || continue
    if [ -e "releases/$name/BAD_RELEASE" ]; then state=bad
    elif [ -e "releases/$name/$rel_unverified" ]; then state=unverified
    else state=verified; fi
    printf 'release %s %s %s\n' "$name" "$state" "$(stamp_of "releases/$name")"
  done
else
  printf 'live tree\nrelease tree verified %s\n' "$(stamp_of .)"
fi
if [ -d .deploy/lock ]; then printf 'lock %s\n' "$(cat 2>/dev/null < .deploy/lock/owner)"; fi

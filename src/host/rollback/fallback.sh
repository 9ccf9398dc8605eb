# shellcheck shell=sh
# Chooses what to return to when fb_failed cannot stay (fallback.ts): only a release that passed
# verify (no unverified or BAD_RELEASE mark), fb_previous (live before this deploy) if it did,
# else the newest one that did (a run that died after its switch leaves its release live and
# unverified). Runs from the target; prints `candidate NAME live|verified` and its stamp
# (`sha SHA`). Files are read through redirections: a path in a command line is what pkill -f PATH
# matches.
#
# Inputs (fallbackScript): fb_failed; fb_previous (may be empty); fb_stamp; fb_unverified.
: "${fb_failed:?}" "${fb_previous?}" "${fb_stamp:?}" "${fb_unverified:?}"
verified() { [ -n "$1" ] && [ "$1" != "$fb_failed" ] && [ -d "releases/$1" ] && [ ! -e "releases/$1/$fb_unverified" ] && [ ! -e "releases/$1/BAD_RELEASE" ]; }
if verified "$fb_previous"; then candidate=$fb_previous; how=live; else
  # shellcheck disable=SC2012 # release names, made by the action
  candidate=$(ls -1r releases 2>/dev/null | while IFS= read -r name; do if verified "$name"; then printf '%s\n' "$name"; break; fi; done)
  how=verified
fi
if [ -n "$candidate" ]; then
  printf 'candidate %s %s\n' "$candidate" "$how"
  printf 'sha %s\n' "$(head -c 200 2>/dev/null < "releases/$candidate/$fb_stamp")"
fi

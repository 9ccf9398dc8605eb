# shellcheck shell=sh
# Before the lock writes anything (lock.ts): the target must belong to the deploy user, as OpenSSH's
# StrictModes and git's safe.directory require of what they trust. Every directory from / down to
# the target that exists must be owned by the deploy user or root and not writable by another user
# (group or other), unless it is sticky (like /tmp) and the directory below it is the deploy
# user's; the target, its .deploy and releases must be owned by the deploy user or root and not
# writable by another user. Otherwise another local user could swap what the deploy writes, or
# what it runs. Walks down with cd and looks at `.`, so no path is in a command line.
#
# Prints `unsafe PATH UID MODE WHY` (WHY: owner, writable) for the first directory
# that fails and exits with owned_unsafe; prints nothing when all is well.
#
# Inputs (ownedCheckScript, lock.ts): owned_target, absolute; owned_unsafe, the exit code.
: "${owned_target:?}" "${owned_unsafe:?}"
owned_uid=$(id -u)
# The owner's uid and the mode string of `.`, as `ls -ldn` prints them.
owned_stat() {
  # shellcheck disable=SC2012,SC2046 # ls -ldn is the portable way to read an owner and mode; split into fields
  set -- $(ls -ldn . 2>/dev/null)
  owned_mode=$1 owned_owner=$3
}
owned_fail() {
  printf 'unsafe %s %s %s %s\n' "$1" "$owned_owner" "$owned_mode" "$2"
  exit "$owned_unsafe"
}
# A directory of the deploy user's or root's that no other user may write to.
owned_strict() {
  owned_stat
  [ "$owned_owner" = "$owned_uid" ] || [ "$owned_owner" = 0 ] || owned_fail "$1" owner
  case $owned_mode in ?????w* | ????????w*) owned_fail "$1" writable ;; esac
}
cd / || exit 1
owned_path=
owned_rest=${owned_target#/}
while [ -n "$owned_rest" ]; do
  # Each parent: the deploy user's or root's, and writable by no other user unless sticky (like
  # /tmp: then only its owner may rename or remove what is in it, and the child is checked next).
  owned_stat
  [ "$owned_owner" = "$owned_uid" ] || [ "$owned_owner" = 0 ] || owned_fail "${owned_path:-/}" owner
  case $owned_mode in ?????w* | ????????w*) case $owned_mode in *[tT]) ;; *) owned_fail "${owned_path:-/}" writable ;; esac ;; esac
  owned_part=${owned_rest%%/*}
  if [ "$owned_part" = "$owned_rest" ]; then owned_rest=; else owned_rest=${owned_rest#*/}; fi
  [ -n "$owned_part" ] || continue
  # What does not exist yet, the deploy creates: its own.
  cd -- "$owned_part" 2>/dev/null || exit 0
  owned_path=$owned_path/$owned_part
done
owned_strict "$owned_path"
for owned_part in .deploy releases; do
  (cd -- "$owned_part" 2>/dev/null || exit 0; owned_strict "$owned_path/$owned_part") || exit "$owned_unsafe"
done

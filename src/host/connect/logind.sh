# shellcheck shell=sh
# Whether systemd-logind ends this user's processes when the SSH session ends (connect.ts): with
# KillUserProcesses=yes, no lingering and the user not excluded, everything the session started
# is stopped at logout, setsid or not. Prints `logind kills USER` then; nothing otherwise (no
# loginctl: no logind; a question it cannot answer: no evidence).
command -v loginctl >/dev/null 2>&1 || exit 0
user=$(id -un)
# show-session with no session names the manager: logind's own settings.
[ "$(loginctl show-session -p KillUserProcesses --value 2>/dev/null)" = yes ] || exit 0
[ "$(loginctl show-user "$user" -p Linger --value 2>/dev/null)" = yes ] && exit 0
listed() {
  for each in $1; do [ "$each" = "$user" ] && return 0; done
  return 1
}
listed "$(loginctl show-session -p KillExcludeUsers --value 2>/dev/null)" && exit 0
only=$(loginctl show-session -p KillOnlyUsers --value 2>/dev/null)
[ -z "$only" ] || listed "$only" || exit 0
printf 'logind kills %s\n' "$user"

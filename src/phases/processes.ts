import { ShellCode } from '../shell.js'

/**
 * Shell functions the stop, wait-for-exit and start scripts share. They read /proc directly so
 * they need neither ps nor a particular awk, and a zombie does not count as running.
 *
 * - `group_alive PGID`: a live (non-zombie) process is in the group.
 * - `pgid_of PID`, `cmdline_of PID`.
 * - `matching_pids`: pids whose command line matches "$pattern" (pgrep -f), never this script's.
 * - `port_held PORT`: something listens on PORT (ss, else /proc/net/tcp*).
 * - `port_holders PORT`: `pid command line` of each listener (ss -p, else a /proc fd scan).
 * - `listening_sockets`: every listening TCP socket, for failure reports.
 */
export const PROCESS_FUNCTIONS = new ShellCode(String.raw`group_alive() {
  cat /proc/[0-9]*/stat 2>/dev/null | awk -v g="$1" '{ sub(/.*\) /, ""); if ($3 == g && $1 != "Z") { found = 1; exit } } END { exit !found }'
}
pgid_of() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f3; }
cmdline_of() { tr '\000' ' ' < "/proc/$1/cmdline" 2>/dev/null; }
matching_pids() {
  [ -n "$pattern" ] || return 0
  pgrep -f -- "$pattern" | while read -r pid; do [ "$pid" = "$$" ] || echo "$pid"; done
}
port_inodes() {
  hex=$(printf ':%04X' "$1")
  cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v p="$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { print $10 }'
}
port_held() {
  if command -v ss >/dev/null 2>&1; then [ -n "$(ss -Htln "sport = :$1" 2>/dev/null)" ]; else [ -n "$(port_inodes "$1")" ]; fi
}
port_holders() {
  if command -v ss >/dev/null 2>&1; then
    pids=$(ss -Htlnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u)
  else
    pids=$(for inode in $(port_inodes "$1"); do find /proc/[0-9]*/fd -lname "socket:\[$inode\]" 2>/dev/null; done | cut -d/ -f3 | sort -u)
  fi
  for pid in $pids; do printf '%s %s\n' "$pid" "$(cmdline_of "$pid")"; done
}
listening_sockets() {
  if command -v ss >/dev/null 2>&1; then ss -Htlnp 2>/dev/null; return; fi
  for hex in $(cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk '$4 == "0A" { n = split($2, a, ":"); print a[n] }' | sort -u); do
    printf 'LISTEN port %d\n' "0x$hex"
  done
}`)

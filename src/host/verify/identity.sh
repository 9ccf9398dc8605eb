# shellcheck shell=sh
# After the service reported the new commit (verify.ts): every service port must be held by a
# process that started after the stop began (`old PORT PID EPOCH COMMAND` names one that did not;
# `free PORT`, one not held yet), and so must the listener that answered version-url when the URL
# names this host (`stranger PORT PID EPOCH COMMAND` names one that is not the new service's, or
# `? ?` one this user cannot see). When all are, records the service's processes (marker, port
# holders, their groups) in state.json for the next stop, and prints `recorded PIDS`.
#
# Inputs (serviceIdentityScript): id_target; id_state, state.json inside the target; id_ports
# (space-separated); id_holder, the port holder's PID file (hold-ports: the holder is not the
# service); id_mark, when the stop began (clock ticks since boot); id_release, id_sha; for the
# URL's listener (empty id_url_port: none to check), id_url_exact and id_url_any, the local
# addresses as /proc/net/tcp* writes them (hex) that the URL's address is bound by exactly, and
# by a wildcard (`*`: any); id_answered, the file where first-answer.py wrote the first answer;
# id_overlap (1: overlap, the old service still serving): the old holders are expected, so each
# port, and the URL's listener, needs one holder started after the mark instead, and nothing is
# recorded yet (the old service's processes are still there). After the host library.
: "${id_overlap?}"
: "${id_target:?}" "${id_state:?}" "${id_ports?}" "${id_holder:?}" "${id_mark:?}" "${id_release:?}" "${id_sha:?}"
: "${id_url_port?}" "${id_url_exact?}" "${id_url_any?}" "${id_answered:?}"
cd -- "$id_target" || exit 1
# When the new service first answered, as first-answer.py saw it from here (host uptime).
answered=
read -r answered 2>/dev/null < "$id_answered" && printf 'answered %s\n' "$answered"
read -r holder_pid 2>/dev/null < "$id_holder" || holder_pid=
old=; free=
for port in $id_ports; do
  pids=$(port_pids "$port" | grep -vx -- "${holder_pid:-none}")
  if [ -z "$pids" ]; then
    if port_busy "$port" "$holder_pid"; then printf 'old %s ? ? a process this user cannot see\n' "$port"; old=1; else printf 'free %s\n' "$port"; free=1; fi
  fi
  fresh=
  for pid in $pids; do
    start=$(start_of "$pid")
    if [ -n "$start" ] && [ "$start" -lt "$id_mark" ]; then
      [ -n "$id_overlap" ] || { printf 'old %s %s %s %s\n' "$port" "$pid" "$(epoch_of "$start")" "$(cmdline_of "$pid")"; old=1; }
    elif [ -n "$start" ]; then
      fresh=1
    fi
  done
  # Overlap: the old service holds every port too; what counts is that the new one does.
  if [ -n "$id_overlap" ] && [ -n "$pids" ] && [ -z "$fresh" ]; then printf 'free %s\n' "$port"; free=1; fi
done
# The sockets listening on PORT at one of ADDRESSES (hex, as /proc/net/tcp* writes them; `*`: any).
listen_inodes() {
  cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
    awk -v port="$(printf '%04X' "$1")" -v addresses=" $2 " '$4 == "0A" {
      split($2, local, ":")
      if (local[2] == port && (addresses == " * " || index(addresses, " " local[1] " "))) print $10
    }'
}
stranger=
if [ -n "$id_url_port" ]; then
  # The sockets bound to the URL's address take its connections; without one, the wildcard's do.
  inodes=$(listen_inodes "$id_url_port" "$id_url_exact")
  [ -n "$inodes" ] || inodes=$(listen_inodes "$id_url_port" "$id_url_any")
  pids=$(for inode in $inodes; do find /proc/[0-9]*/fd -lname "socket:\[$inode\]" 2>/dev/null; done | cut -d/ -f3 | sort -u | grep -vx -- "${holder_pid:-none}")
  if [ -z "$pids" ]; then printf 'stranger %s ? ? a process this user cannot see, or none\n' "$id_url_port"; stranger=1; fi
  olds=; fresh=
  for pid in $pids; do
    start=$(start_of "$pid")
    if [ -z "$start" ] || [ "$start" -lt "$id_mark" ]; then
      olds="$olds$(printf 'stranger %s %s %s %s' "$id_url_port" "$pid" "$(epoch_of "${start:-0}")" "$(cmdline_of "$pid")")
"
    else
      fresh=1
    fi
  done
  # Overlap: the old service listens there too; a listener of the new one is what counts.
  if [ -n "$olds" ] && { [ -z "$id_overlap" ] || [ -z "$fresh" ]; }; then printf '%s' "$olds"; stranger=1; fi
fi
[ -z "$old$free$stranger" ] || exit 0
# Overlap: the old service still runs; its processes are recorded once it is retired.
[ -z "$id_overlap" ] || exit 0
service_scan "$id_target" "$(recorded_processes "$id_state")" '' '' "$id_ports" | record_state "$id_state" "$id_release" "$id_sha"
printf 'recorded %s\n' "$(recorded_processes "$id_state" | awk '{ printf " %s", $2 }')"

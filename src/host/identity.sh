# shellcheck shell=sh
# After the service reported the new commit (verify.ts): every service port must be held by a
# process that started after the stop began (`old PORT PID EPOCH COMMAND` names one that did not;
# `free PORT`, one not held yet). When all are, records the service's processes (marker, port
# holders, their groups) in state.json for the next stop, and prints `recorded PIDS`.
#
# Inputs (serviceIdentityScript): id_target; id_state, state.json inside the target; id_ports
# (space-separated); id_holder, the port holder's PID file (hold-ports: the holder is not the
# service); id_mark, when the stop began (clock ticks since boot); id_release, id_sha.
# Before it: the service functions.
: "${id_target:?}" "${id_state:?}" "${id_ports?}" "${id_holder:?}" "${id_mark:?}" "${id_release:?}" "${id_sha:?}"
cd -- "$id_target" || exit 1
read -r holder_pid 2>/dev/null < "$id_holder" || holder_pid=
old=; free=
for port in $id_ports; do
  pids=$(port_pids "$port" | grep -vx -- "${holder_pid:-none}")
  if [ -z "$pids" ]; then
    if port_busy "$port" "$holder_pid"; then printf 'old %s ? ? a process this user cannot see\n' "$port"; old=1; else printf 'free %s\n' "$port"; free=1; fi
  fi
  for pid in $pids; do
    start=$(start_of "$pid")
    if [ -n "$start" ] && [ "$start" -lt "$id_mark" ]; then
      printf 'old %s %s %s %s\n' "$port" "$pid" "$(epoch_of "$start")" "$(cmdline_of "$pid")"; old=1
    fi
  done
done
[ -z "$old$free" ] || exit 0
service_scan "$id_target" "$(recorded_processes "$id_state")" '' '' "$id_ports" | record_state "$id_state" "$id_release" "$id_sha"
printf 'recorded %s\n' "$(recorded_processes "$id_state" | awk '{ printf " %s", $2 }')"

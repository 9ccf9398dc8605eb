# shellcheck shell=sh
# wait-for-exit, a host-step body after stop's: polls until none of the service's processes (found
# as the stop found them, plus the groups it signalled) and no listener on the ports is left. After
# the timeout: SIGKILL (once, then 5 s more) or fail naming what is left. Prints how long the exit
# took, and (data gone) when the service it stopped was gone, in host uptime. Needs uptime_now,
# the host step's.
#
# Inputs (waitForExitBody, stop.ts): wait_target; wait_pattern (process-match, may be empty);
# wait_ports (space-separated); wait_timeout (stop-timeout, s); wait_kill (1: kill-after-timeout);
# wait_holder, the port holder's PID file (hold-ports: its sockets do not count); progress_seconds;
# the exit code still_running. From stop: recorded, stopped_pids,
# stopped_groups. From the host step: step_key and the service functions.
: "${wait_target:?}" "${wait_pattern?}" "${wait_ports?}" "${wait_timeout:?}" "${wait_kill?}"
: "${wait_holder:?}" "${progress_seconds:?}" "${still_running:?}" "${step_key:?}"
: "${recorded?}" "${stopped_pids?}" "${stopped_groups?}"
read -r holder_pid 2>/dev/null < "$wait_holder" || holder_pid=
pattern=$wait_pattern
groups=$stopped_groups
ports=$wait_ports
# Overlap: the instance that stays holds the ports (through the holder's sockets): only the
# processes stop chose must go.
[ -z "${scan_keep-}" ] || ports=
now=0 # now_s (service.sh) sets it
now_s; begin=$now; reported=$now
deadline=$((begin + wait_timeout))
killed=
# First watch the processes the stop signalled, every 10 ms with shell builtins only (no process
# started per check but sleep), so their exit is seen at once; then confirm with full scans.
watch=$stopped_pids
checks=$((wait_timeout * 80))
held_file=$(mktemp) || exit 1
while [ -n "$watch" ] && [ "$checks" -gt 0 ]; do
  checks=$((checks - 1))
  left=
  for pid in $watch; do
    if process_alive "$pid"; then left="$left $pid"; fi
  done
  watch=$left
  [ -z "$watch" ] || sleep 0.01
done
# When the service it stopped was gone (its last signalled process exited), in host uptime: where
# the downtime clients see begins. Nothing was stopped: no downtime.
gone_at=
[ -n "$stopped_pids" ] && [ -z "$watch" ] && gone_at=$(uptime_now)
while :; do
  # The port check runs beside the scan: both only read, and each costs a few processes.
  (for port in $ports; do if port_busy "$port" "$holder_pid"; then printf ' %s' "$port"; fi; done > "$held_file") &
  alive=$(service_scan "$wait_target" "$recorded" "$pattern" "$groups" '' pids)
  wait $!
  held=; read -r held < "$held_file" || :
  now_s
  if [ -z "$alive$held" ]; then
    rm -f -- "$held_file"
    printf 'old service gone after %s s\n' "$((now - begin))"
    [ -z "$stopped_pids" ] || printf '@@%s data gone %s\n' "$step_key" "${gone_at:-$(uptime_now)}"
    break
  fi
  if [ "$((now - reported))" -ge "$progress_seconds" ]; then
    reported=$now
    printf 'still waiting after %s s (stop-timeout %s):' "$((now - begin))" "$wait_timeout"
    for pid in $alive; do printf ' pid %s (%s)' "$pid" "$(cmdline_of "$pid" | cut -c1-80)"; done
    for port in $held; do printf ' port %s held' "$port"; done
    echo
  fi
  if [ "$now" -ge "$deadline" ]; then
    if [ -z "$killed" ] && [ -n "$alive" ] && [ -n "$wait_kill" ]; then
      printf 'still running after %s s: SIGKILL to%s\n' "$wait_timeout" "$alive"
      printf '@@%s data killed 1\n' "$step_key"
      for pid in $alive; do kill -KILL "$pid" 2>/dev/null; done
      killed=1
      deadline=$((now + 5))
    else
      for pid in $alive; do printf '@@%s error pid %s still running: %s\n' "$step_key" "$pid" "$(cmdline_of "$pid")"; done
      for port in $held; do
        holders=$(port_holders "$port")
        printf '@@%s error port %s is still held by: %s\n' "$step_key" "$port" "${holders:-a process this user cannot see}"
      done
      rm -f -- "$held_file"
      exit "$still_running"
    fi
  fi
  sleep 0.2
done

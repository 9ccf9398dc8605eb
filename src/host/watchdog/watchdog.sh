# shellcheck shell=sh
# The watchdog (watchdog.ts, "Commit confirmed"): waits while the release is provisional and the
# lock is this run's; once its budget is over and the runner's heartbeat is stale, takes the
# decision (renames provisional to undo), runs the restart to the fallback (wd_undo: a host step,
# recorded like any restart), waits for new processes on the ports, journals the outcome, removes
# the release it undid (wd_discard) and frees the lock.
#
# Inputs (watchdogScript, watchdog.ts): wd_target; wd_deploy and wd_lock, the .deploy directory
# and the lock inside the target; wd_token,
# this run's lock token; wd_budget (s after the start); wd_stale, how old a heartbeat is dead (s);
# wd_release, the release it may undo; wd_fallback and wd_fallback_sha, what it returns to;
# wd_ports; wd_version_timeout (s); wd_restart_log, the restart's output (for the journal); wd_undo,
# the script that follows the restart to the fallback (follow.sh); wd_discard, the script that
# removes the release. After the host library, with this run's journal.
: "${wd_target:?}" "${wd_deploy:?}" "${wd_lock:?}" "${wd_token:?}" "${wd_budget:?}" "${wd_stale:?}"
: "${wd_release:?}" "${wd_fallback:?}" "${wd_fallback_sha:?}" "${wd_ports?}"
: "${wd_version_timeout:?}" "${wd_restart_log:?}" "${wd_undo:?}" "${wd_discard:?}"
cd -- "$wd_target" || exit 1
ours() { read -r owner 2>/dev/null < "$wd_lock/owner" && case $owner in *"$wd_token"*) true ;; *) false ;; esac; }
now=0 # now_s (service.sh) sets it
now_s; deadline=$((now + wd_budget))
while :; do
  [ -d "$wd_lock/provisional" ] && ours || exit 0
  now_s
  if [ "$now" -ge "$deadline" ]; then
    read -r beat 2>/dev/null < "$wd_lock/heartbeat" || beat=0
    case $beat in '' | *[!0-9]*) beat=0 ;; esac
    [ "$((now - beat))" -lt "$wd_stale" ] || break
  fi
  sleep 1
done
mv -T -- "$wd_lock/provisional" "$wd_lock/undo" 2>/dev/null || exit 0
journal undo "$wd_release: not confirmed within $wd_budget s of its start, and the runner sent no heartbeat for $wd_stale s. Returning to $wd_fallback"
mark=$(awk -v hz="$(getconf CLK_TCK 2>/dev/null || echo 100)" '{ printf "%d\n", $1 * hz }' < /proc/uptime)
(eval "$wd_undo") > /dev/null 2>&1
status=$?
if [ "$status" -eq 0 ]; then
  waited=0
  while :; do
    missing=
    for port in $wd_ports; do
      fresh=
      for pid in $(port_pids "$port"); do start=$(start_of "$pid"); [ -n "$start" ] && [ "$start" -ge "$mark" ] && fresh=1; done
      [ -n "$fresh" ] || missing="$missing $port"
    done
    if [ -z "$missing" ] || [ "$waited" -ge "$wd_version_timeout" ]; then break; fi
    sleep 1; waited=$((waited + 1))
  done
  if [ -z "$missing" ]; then journal undone "$wd_fallback $wd_fallback_sha: started it, and new processes hold its ports"
  else journal undo-failed "$wd_fallback: started it, but no new process holds port$missing after $wd_version_timeout s"
  fi
else
  journal undo-failed "$wd_fallback: the restart step exited with $status ($wd_restart_log)"
fi
(eval "$wd_discard") > /dev/null
ours && (cd -- "$wd_deploy" && rm -rf -- lock) && journal released the lock

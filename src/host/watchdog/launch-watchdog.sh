# shellcheck shell=sh
# Launches the armed watchdog (launchWatchdogScript, commands/watchdog.ts) right after the switch,
# before the start, in its own session: its script, written into the lock at arming, runs from its
# environment (exec_script). The PID file was written at arming and is overwritten in place (<>):
# no new space is needed.
#
# Inputs: launch_lock, the lock inside the target (the step runs from the target); launch_release;
# launch_budget (s). From the host step: the host library, with this run's journal.
: "${launch_lock:?}" "${launch_release:?}" "${launch_budget:?}"
journal watching "$launch_release"
if [ -f "$launch_lock/watchdog.sh" ] && [ -d "$launch_lock/provisional" ]; then
  (exec_script "$(cat < "$launch_lock/watchdog.sh")" setsid) < /dev/null > /dev/null 2>&1 &
  printf '%-12s\n' "$!" 1<> "$launch_lock/watchdog.pid"
  printf 'Watchdog %s: unless this run confirms %s within %s s with its runner alive, the host returns to the last verified release\n' "$!" "$launch_release" "$launch_budget"
fi

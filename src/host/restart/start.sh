# shellcheck shell=sh
# Detached start, a host-step body (commands/start.ts): the start-command runs under start_launcher
# (setsid, or the hold-ports wrapper, which calls setsid) in a new session, its own process group, stdin from /dev/null and
# output appended to the log, so nothing it leaves behind holds the SSH channel open. Watches it
# for 1 s: still running, or exited 0 (it daemonized), is a start; a non-zero exit fails with this
# start's log lines. Records what it started in state.json for a stop before
# verify.
#
# Inputs (detachedStartBody, commands/start.ts), paths inside the target, which the step runs from:
# start_environment and start_command, the start-command for exec_user_command, and
# start_launcher; start_log and its directory start_log_dir (start_log_shown in messages);
# start_live, where the command runs; start_shown, the command as the log names it; start_release,
# start_sha; start_target; start_state; the exit code start_failed. From the host step: step_key
# and the host library.
: "${start_environment?}" "${start_command:?}" "${start_launcher:?}"
: "${start_log:?}" "${start_log_dir:?}" "${start_log_shown:?}" "${start_live:?}" "${start_shown:?}" "${start_release:?}"
: "${start_sha:?}" "${start_target:?}" "${start_state:?}" "${start_failed:?}" "${step_key:?}"
# The log is opened here, in the step's directory, before the command's shell moves to start_live.
[ -d "$start_log_dir" ] || mkdir -p -- "$start_log_dir" || exit 1
header="=== $(date -u +%Y-%m-%dT%H:%M:%SZ) starting release $start_release ($start_sha) [$$]"
(umask 077 && printf '\n%s\n' "$header" 2>/dev/null >> "$start_log") || printf 'could not write to %s (the disk may be full)\n' "$start_log_shown"
(
cd -- "$start_live" || exit 1
exec_user_command "$start_environment" "$start_command" "$start_launcher"
) < /dev/null >> "$start_log" 2>&1 &
launched=$!
waited=0; status=
while [ "$waited" -lt 10 ]; do
  if ! process_alive "$launched"; then wait "$launched"; status=$?; break; fi
  sleep 0.1; waited=$((waited + 1))
done
if [ -z "$status" ]; then
  printf '@@%s data running %s\n' "$step_key" "$launched"
  printf 'Started %s as process group %s; output goes to %s\n' "$start_shown" "$launched" "$start_log_shown"
elif [ "$status" -eq 0 ]; then
  printf '%s exited 0 within 1 s: it daemonized. Verify finds the service by its DEPLOY_TARGET marker; output goes to %s\n' "$start_shown" "$start_log_shown"
else
  printf '@@%s error the start command exited with code %s within 1 s; its lines in %s:\n' "$step_key" "$status" "$start_log_shown"
  start_lines "$start_log" "$header" | sed "s/^/@@$step_key error /"
  exit "$start_failed"
fi
printf '@@%s data header %s\n' "$step_key" "$header"
service_scan "$start_target" '' '' "$launched" '' | record_state "$start_state" "$start_release" "$start_sha"

# shellcheck shell=sh
# Start with detach: false, a host-step body (foregroundStartBody, commands/start.ts): runs the
# start-command as is (e.g. `systemctl start app`) from start_live and waits for it; its output
# goes to the log. A non-zero exit fails the start.
#
# Inputs: start_environment and start_command, the start-command for exec_user_command;
# start_live; start_shown, the command as the log names it; the exit code start_failed. From the
# host step: step_key and the host library.
: "${start_environment?}" "${start_command:?}" "${start_live:?}" "${start_shown:?}" "${start_failed:?}" "${step_key:?}"
cd -- "$start_live" || exit 1
(exec_user_command "$start_environment" "$start_command") < /dev/null 2>&1
status=$?
if [ "$status" -ne 0 ]; then
  printf '@@%s error start-command exited with code %s (detach: false); its output is above in the log\n' "$step_key" "$status"
  exit "$start_failed"
fi
printf 'Ran %s (detach: false)\n' "$start_shown"

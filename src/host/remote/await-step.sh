# shellcheck shell=sh
# Waits for the host step writing await_out to end (awaitStepScript, remote/host-step.ts), up to
# await_wait seconds, then prints that file. A step gone without its exit line that nobody
# reported yet (what followed it was killed too) gets its `died -` marker written there first.
# With await_key, a file that is not that step's output (the command starting it was cut off
# before it did) prints the step's `absent` marker instead: the step never ran.
#
# Inputs: await_out; await_wait (s); await_key (may be empty) and await_line, the line that begins
# that step's output. After the host library.
: "${await_out:?}" "${await_wait:?}" "${await_key?}" "${await_line?}"
if [ -n "$await_key" ]; then
  # A step whose starter was cut off just after launching it prints its PID within milliseconds.
  if ! grep -qxF -- "$await_line" 2>/dev/null < "$await_out" || { [ -z "$(step_marker "$await_out" pid)" ] && sleep 1 && [ -z "$(step_marker "$await_out" pid)" ]; }; then
    printf '@@%s absent\n' "$await_key"
    exit 0
  fi
fi
wait_for_step "$await_out" "$await_wait"
step_pid=$(step_marker "$await_out" pid)
if [ -n "$step_pid" ] && ! process_alive "$step_pid" && [ -z "$(step_marker "$await_out" exit)" ] && [ -z "$(step_marker "$await_out" died)" ]; then
  printf 'the host step (pid %s) ended without finishing: something on the host killed it\n@@%s died -\n' "$step_pid" "$(step_key_of "$await_out")" >> "$await_out"
fi
cat 2>/dev/null < "$await_out"

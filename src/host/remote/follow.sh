# shellcheck shell=sh
# Starts a host step detached and follows it (followScript, remote/host-step.ts): the step runs in
# its own session, its output appended to follow_out, its text in its environment rather than its
# command line (exec_script); this prints that file as it grows until the step has ended and exits
# with the step's code. If this command is cut off, the step goes on. A step that ended without its
# exit line was killed (a wait status over 128: `@@KEY died`), or could not write it (a full disk:
# the exit line is then this command's, from the wait status); either goes into follow_out too
# where it can, so the post step reads the same.
#
# Inputs: follow_out, the step's output file (follow_dir and follow_name, its directory and name:
# files are read through redirections, as a path in a command line is what pkill -f PATH matches);
# follow_reserve, bytes set aside in it so a disk that fills during the step cannot cut it;
# follow_key, the step's key, and follow_line, the line that begins its output; follow_wait (s), how long a step an earlier, cut-off command left
# running may take to end first; follow_step, the step's script. After the host library.
: "${follow_out:?}" "${follow_dir:?}" "${follow_name:?}" "${follow_reserve:?}" "${follow_key:?}"
: "${follow_line:?}" "${follow_wait:?}" "${follow_step:?}"
# A step an earlier, cut-off command left running (a restart whose connection dropped) ends first.
wait_for_step "$follow_out" "$follow_wait"
(cd -- "$follow_dir" && rm -f -- "$follow_name")
(umask 077 && : > "$follow_out") || exit 1
(cd -- "$follow_dir" && fallocate -n -l "$follow_reserve" "$follow_name") 2>/dev/null || :
printf '%s\n' "$follow_line" >> "$follow_out" || exit 1
(exec_script "$follow_step" setsid) < /dev/null >> "$follow_out" 2>&1 &
step=$!
shown=0
while :; do
  size=$(wc -c < "$follow_out")
  if [ "$size" -gt "$shown" ]; then tail -c +$((shown + 1)) < "$follow_out" | head -c $((size - shown)); shown=$size; fi
  process_alive "$step" || break
  sleep 0.05
done
wait "$step"
status=$?
tail -c +$((shown + 1)) < "$follow_out"
if [ -z "$(step_marker "$follow_out" exit)" ]; then
  if [ "$status" -gt 128 ]; then
    ending=$(printf 'the host step (pid %s) ended without finishing (wait status %s): something on the host killed it\n@@%s died %s' "$step" "$status" "$follow_key" "$status")
  else
    ending=$(printf 'the host step could not write all of its output to %s (the disk may be full); it exited with %s\n@@%s exit %s -' "$follow_out" "$status" "$follow_key" "$status")
  fi
  printf '%s\n' "$ending" 2>/dev/null >> "$follow_out"
  printf '%s\n' "$ending"
fi
exit "$status"

# shellcheck shell=sh
# The port holder's part of start (hold.ts), first in the start body, once the old service is gone
# (wait-for-exit). With hold-ports, the holder (holder.py) must be running and holding hold_listen:
# one that died is started again, one holding other ports is replaced. Without hold-ports, one
# left by an earlier deploy is stopped and its files go, so the start can bind the ports itself.
#
# Inputs (holdBody), paths inside the target, which the step runs from: hold_dir; hold_on (1:
# hold-ports); hold_listen, ADDRESS:PORT words; hold_target, the holder's marker value; the exit
# code hold_failed; hold_program, the holder's code, and hold_python, the python -c that runs it
# from the environment variable VSD_HOLDER_CODE (code the action built). From the host step:
# step_key and the host library (holder_marker).
: "${holder_marker:?}" "${hold_dir:?}" "${hold_on?}" "${hold_listen?}" "${hold_target:?}" "${hold_failed:?}" "${step_key:?}"
: "${hold_program:?}" "${hold_python:?}"
holder=; held=
read -r holder 2>/dev/null < "$hold_dir/pid" || holder=
read -r held 2>/dev/null < "$hold_dir/listen" || held=
if [ -n "$holder" ] && ! { process_alive "$holder" && holder_is "$holder" "$hold_target"; }; then
  [ -z "$hold_on" ] || printf 'The port holder (pid %s) is gone; starting it again\n' "$holder"
  holder=
fi
if [ -n "$holder" ] && { [ -z "$hold_on" ] || [ "$held" != "$hold_listen" ]; }; then
  kill -TERM "$holder" 2>/dev/null
  waited=0
  while process_alive "$holder" && [ "$waited" -lt 50 ]; do sleep 0.1; waited=$((waited + 1)); done
  printf 'Stopped the port holder (pid %s), which held %s\n' "$holder" "$held"
  holder=
fi
if [ -z "$hold_on" ]; then
  [ ! -d "$hold_dir" ] || rm -rf -- "$hold_dir"
elif [ -n "$holder" ]; then
  printf 'The port holder (pid %s) holds %s across the restart (hold-ports)\n' "$holder" "$hold_listen"
else
  # A holder that was stopped or died leaves its socket file: only the new one's may be found.
  mkdir -p -- "$hold_dir" && rm -f -- "$hold_dir/control" "$hold_dir/control.new" && : > "$hold_dir/holder.log" || exit 1
  # In its own session, its program and ports in its environment, marked as the holder.
  (cd -- "$hold_dir" || exit 1
    VSD_HOLDER_CODE=$hold_program VSD_HOLDER_LISTEN=$hold_listen
    export VSD_HOLDER_CODE VSD_HOLDER_LISTEN "$holder_marker=$hold_target"
    eval "exec setsid $hold_python") < /dev/null >> "$hold_dir/holder.log" 2>&1 &
  holder=$!
  waited=0
  while process_alive "$holder" && [ ! -S "$hold_dir/control" ] && [ "$waited" -lt 100 ]; do sleep 0.05; waited=$((waited + 1)); done
  if [ ! -S "$hold_dir/control" ] || ! process_alive "$holder"; then
    printf '@@%s error the port holder (hold-ports) did not start: %s\n' "$step_key" "$(tail -n 3 < "$hold_dir/holder.log" | tr '\n' ' ')"
    kill -TERM "$holder" 2>/dev/null
    exit "$hold_failed"
  fi
  printf '%s\n' "$holder" > "$hold_dir/pid" && printf '%s\n' "$hold_listen" > "$hold_dir/listen" || exit 1
  printf 'The port holder (pid %s) now holds %s (hold-ports)\n' "$holder" "$hold_listen"
fi

# shellcheck shell=sh
# Asking about processes and host steps, the one way each is asked (STEP_FUNCTIONS, protocol.ts):
#
# - process_alive PID: the process exists and is not a zombie (no PID: false);
# - step_key_of FILE: the key of the step whose output is FILE;
# - step_marker FILE KIND: the rest of the first KIND marker of the step whose output is FILE;
# - step_running FILE: that step's process is alive and it has not written its exit line.
#
# Builtins and redirections only where a path is involved: a file named in a command line is what
# pkill -f PATH matches.
process_alive() {
  case $1 in '' | *[!0-9]*) return 1 ;; esac
  stat=
  { read -r stat < "/proc/$1/stat"; } 2>/dev/null
  case ${stat##*) } in '' | [ZX]*) return 1 ;; esac
}
step_key_of() { sed -n '1s/^@@step \([0-9a-f]\{12\}\)$/\1/p' 2>/dev/null < "$1"; }
step_marker() {
  key=$(step_key_of "$1")
  # Anywhere in a line: a command's last line without a newline runs into the marker after it.
  [ -n "$key" ] && sed -n "s/^.*@@$key $2 //p" 2>/dev/null < "$1" | head -n 1
}
step_running() {
  step_pid=$(step_marker "$1" pid)
  [ -n "$step_pid" ] && process_alive "$step_pid" && [ -z "$(step_marker "$1" exit)" ]
}

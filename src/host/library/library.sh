# shellcheck shell=sh
# The host library: the shell functions host scripts share, sent ahead of every script that needs
# one (HOST_LIBRARY, remote/host-library.ts), with the values they read set before it:
# select_service (select-service.awk), control_marker, holder_marker, target_marker, and for
# journal, journal_file and journal_token. Builtins and redirections only where a path is
# involved: a file named in a command line is what pkill -f PATH matches.
#
# Host steps (remote/host-step.ts):
# - process_alive PID: the process exists and is not a zombie (no PID: false);
# - step_key_of FILE: the key of the step whose output is FILE;
# - step_marker FILE KIND: the rest of the first KIND marker of the step whose output is FILE;
# - step_running FILE: that step's process is alive and it has not written its exit line;
# - uptime_now: seconds since boot, as /proc/uptime gives them (0 when unreadable);
# - wait_for_step FILE SECONDS: waits, up to SECONDS, while the step writing FILE is running.
#
# Running a script the action was given as an input (a host step, the watchdog, a user's command):
# - exec_script TEXT [LAUNCHER]: replaces this (sub)shell with a new /bin/sh that runs TEXT, taking
#   it from its environment, never its command line: nothing of TEXT stands in any process's argv,
#   so a pkill -f in it can match neither its own shell nor the action's. LAUNCHER, code the action
#   built (setsid, the hold-ports wrapper), goes before that shell;
# - exec_user_command ENVIRONMENT COMMAND [LAUNCHER]: the user's COMMAND (stop-, start-,
#   prepare-command, the install command) after ENVIRONMENT, the export lines the action built
#   (commands/environment.ts), through exec_script;
# - start_lines LOG HEADER: the last 50 lines of LOG after the line HEADER (this start's);
# - enter_dirs DIRS [make]: cd into each /-separated directory of DIRS in turn, refusing a symlink
#   (with make, creating one that is missing); fails at the first it cannot enter, named in $part.
# - log_release LOG LINE: appends LINE to releases.log at LOG. It is history, not state: a write
#   that fails (a full disk) is said, and the switch goes on.
#
# The journal (remote/journal.ts):
# - journal WORDS…: appends `TIME TOKEN WORDS…` to journal_file for the run holding journal_token;
#   never fails (a full disk loses the line, not the step);
# - journal_lines: that run's lines of journal_file, as `journal TIME WORDS…`.
#
# Trees (commands/upload.ts, commands/switch.ts):
# - tar_copy FROM TO [LIST]: copies a tree with a tar pipe (real copies, never hard links): the
#   whole of FROM, or only the NUL-separated ./path list in the file LIST, which is opened before
#   the cd, so relative paths name the same files on both sides. Fails if either side fails.
# - merge_manifest DIR BASE NAME DELTA: writes manifest NAME (DIR/NAME.tsv) from manifest BASE
#   plus the delta file DELTA, so an incremental deploy sends only the changed lines; with BASE
#   empty, the delta is the whole manifest.
#
# The service (README, "How the action finds your service"). They read /proc directly, so they
# need neither ps, pgrep nor a particular awk; a scan is one awk pass (plus ss when asked), and a
# zombie never counts as running.
# - recorded_processes STATE: the R lines of state.json, for service_scan (read once a step: the
#   file only changes at start). state.json's one reader; record_state is its one writer.
# - service_scan TARGET RECORDED PATTERN GROUPS [HOLDER_PORTS [pids]]: the selection
#   (select-service.awk); with pids, only the PIDs to act on, on one line. With scan_keep set
#   (`new MARK` or `old MARK`: overlap), the processes of one of two instances are left out.
# - holder_holds DIR LISTEN TARGET: the port holder whose files are in DIR runs, carries TARGET's
#   holder marker and holds LISTEN (hold-ports); holder_is PID TARGET: PID carries that marker.
# - now_s: whole seconds since boot into $now, without starting a process.
# - start_of PID: start time in clock ticks since boot (field 22 of stat).
# - cmdline_of PID (one line, at most 300 characters), user_of PID, epoch_of TICKS.
# - port_held PORT, port_pids PORT, port_holders PORT (pid command line per listener);
#   port_busy PORT HOLDER: held by a process other than the port holder HOLDER (hold-ports).
# - record_state STATE RELEASE SHA: writes state.json from signal lines on stdin (STATE holds a /;
#   the rename runs beside it, so its command line names no directory). A write that fails leaves
#   the old file, says so and succeeds: the service still runs.
: "${select_service:?}" "${control_marker:?}" "${holder_marker:?}" "${target_marker:?}"
# Each script calls some of these functions, none calls all: shellcheck is told so for the block.
# shellcheck disable=SC2317
{
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
uptime_now() { read -r up _ 2>/dev/null < /proc/uptime || up=0; printf '%s' "$up"; }
wait_for_step() {
  waited=0
  while step_running "$1" && [ "$waited" -lt $(($2 * 5)) ]; do
    sleep 0.2; waited=$((waited + 1))
  done
}
exec_script() {
  VERIFIED_SSH_DEPLOY_SCRIPT=$1
  export VERIFIED_SSH_DEPLOY_SCRIPT
  eval "exec ${2-} /bin/sh -c 'vsd_script=\$VERIFIED_SSH_DEPLOY_SCRIPT; unset VERIFIED_SSH_DEPLOY_SCRIPT; eval \"\$vsd_script\"'"
}
exec_user_command() {
  eval "$1"
  exec_script "$2" "${3-}"
}
enter_dirs() {
  enter_make=${2-}
  set -f
  old_ifs=$IFS IFS=/
  # shellcheck disable=SC2086 # split on / only, without globbing
  set -- $1
  IFS=$old_ifs
  set +f
  for part do
    if [ -L "$part" ] || { [ -n "$enter_make" ] && [ ! -e "$part" ] && ! mkdir -- "$part"; } || ! cd -- "$part"; then
      return 1
    fi
  done
}
log_release() {
  printf '%s\n' "$2" 2>/dev/null >> "$1" || printf 'could not append to %s (the disk may be full)\n' "$1"
}
start_lines() {
  awk -v header="$2" '$0 == header { n = 0; next } { line[n++ % 50] = $0 } END { for (i = (n > 50 ? n - 50 : 0); i < n; i++) print line[i % 50] }' 2>/dev/null < "$1"
}
journal() {
  : "${journal_file:?}" "${journal_token:?}"
  (umask 077 && printf '%s %s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$journal_token" "$*" 2>/dev/null >> "$journal_file") || :
}
journal_lines() {
  : "${journal_file:?}" "${journal_token:?}"
  grep -F -- " $journal_token " 2>/dev/null < "$journal_file" | while read -r time _ rest; do printf 'journal %s %s\n' "$time" "$rest"; done
}
tar_copy() {
  mkdir -p -- "$2" || return 1
  copy_status=$(mktemp) || return 1
  if [ -n "${3-}" ]; then
    { (cd -- "$1" && tar --null -T - -cf -) < "$3"; echo $? > "$copy_status"; } | (cd -- "$2" && tar -xpf - --no-same-owner)
  else
    { (cd -- "$1" && tar -cf - .); echo $? > "$copy_status"; } | (cd -- "$2" && tar -xpf - --no-same-owner)
  fi
  extracted=$?
  read -r copied < "$copy_status"; rm -f -- "$copy_status"
  [ "$copied" = 0 ] && [ "$extracted" = 0 ]
}
merge_manifest() {
  mkdir -p -- "$1" && if [ -n "$2" ]; then
    awk -F '	' 'NR == FNR { if ($1 == "#delta") next; if ($1 == "-") drop[$2] = 1; else add[$4] = $0; next } !($4 in drop) && !($4 in add) { print } END { for (path in add) print add[path] }' "$4" "$1/$2.tsv"
  else sed '/^#delta/d' "$4"; fi > "$1/$3.tsv.tmp" && mv -f -- "$1/$3.tsv.tmp" "$1/$3.tsv"
}
# Markers for an awk that cannot read environ files itself: one tr per readable process.
environ_markers() {
  for file in /proc/[0-9]*/environ; do
    [ -r "$file" ] || continue
    tr '\000' '\n' 2>/dev/null < "$file" | awk -v file="$file" -v control_name="$control_marker" -v holder_name="$holder_marker" -v marker_name="$target_marker" '
      NR == 1 { pid = file; sub(/^\/proc\//, "", pid); sub(/\/environ$/, "", pid) }
      $0 == control_name "=1" { print "E", pid, "control" }
      index($0, holder_name "=") == 1 { print "E", pid, "holder" }
      index($0, marker_name "=") == 1 { print "E", pid, "target", substr($0, length(marker_name) + 2) }'
  done
}
recorded_processes() {
  [ -f "$1" ] || return 0
  read -r boot 2>/dev/null < /proc/sys/kernel/random/boot_id || boot=
  # PIDs recorded before the last reboot name other processes now: only this boot's count.
  awk -v boot="$boot" '
    index($0, "\"boot_id\": \"" boot "\"") { this_boot = 1 }
    /"pid": *[0-9]+, *"pgid": *[0-9]+, *"start": *[0-9]+/ { gsub(/[^0-9,]/, ""); split($0, n, ","); line[++count] = "R " n[1] " " n[3] " " n[2] }
    END { if (this_boot) for (i = 1; i <= count; i++) print line[i] }' < "$1"
}
# Command lines for an awk that cannot read cmdline files itself: one tr per process.
cmdline_lines() {
  for file in /proc/[0-9]*/cmdline; do
    pid=${file#/proc/}; pid=${pid%/cmdline}
    text=$(tr '\000\n' '  ' 2>/dev/null < "$file") || continue
    text=${text% }
    [ -z "$text" ] || printf 'C %s %s\n' "$pid" "$text"
  done
}
scan_input() {
  if [ "$awk_splits_nul" != 2 ]; then
    environ_markers
    [ -z "$3" ] || cmdline_lines
  fi
  [ -z "$2" ] || printf '%s\n' "$2"
  for group in $4; do echo "G $group"; done
  for port in $5; do port_pids "$port" | sed 's/^/H /'; done
}
# The target and pattern go to awk in its environment: in its command line, a pkill -f could match them.
# shellcheck disable=SC2086 # $4 is a list of /proc globs, expanded here
scan_awk() {
  VSD_TARGET=$1 VSD_PATTERN=$2 VSD_KEEP=${scan_keep-} awk -v self="$$" -v pids_only="$3" -v control_name="$control_marker" -v holder_name="$holder_marker" -v marker_name="$target_marker" "$select_service" /proc/[0-9]*/stat $4
}
service_scan() {
  # Whether this awk splits records on NUL (busybox's does not): asked once per script.
  [ -n "${awk_splits_nul-}" ] || awk_splits_nul=$(printf 'a\000b\000' | awk 'BEGIN { RS = "\000" } END { print NR }')
  if [ "$awk_splits_nul" != 2 ]; then
    scan_input "$@" | scan_awk "$1" "$3" "$6" ''
  elif [ -n "$3" ]; then
    scan_input "$@" | scan_awk "$1" "$3" "$6" '/proc/[0-9]*/environ /proc/[0-9]*/cmdline'
  else
    scan_input "$@" | scan_awk "$1" "$3" "$6" '/proc/[0-9]*/environ'
  fi
}
# Whole seconds since boot into $now, with builtins only (no process started).
now_s() { read -r now _ < /proc/uptime; now=${now%.*}; }
start_of() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f20; }
cmdline_of() { tr '\000\n' '  ' 2>/dev/null < "/proc/$1/cmdline" | sed 's/ *$//' | cut -c1-300; }
# shellcheck disable=SC2012 # a /proc entry, named by the kernel
user_of() { ls -ld "/proc/$1" 2>/dev/null | awk '{ print $3 }'; }
epoch_of() {
  awk -v ticks="$1" -v hz="$(getconf CLK_TCK 2>/dev/null || echo 100)" '$1 == "btime" { printf "%d\n", $2 + ticks / hz }' /proc/stat
}
port_inodes() {
  hex=$(printf ':%04X' "$1")
  cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v p="$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { print $10 }'
}
port_held() {
  if command -v ss >/dev/null 2>&1; then [ -n "$(ss -Htln "sport = :$1" 2>/dev/null)" ]; else [ -n "$(port_inodes "$1")" ]; fi
}
port_pids() {
  if command -v ss >/dev/null 2>&1; then
    ss -Htlnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u
  else
    for inode in $(port_inodes "$1"); do find /proc/[0-9]*/fd -lname "socket:\[$inode\]" 2>/dev/null; done | cut -d/ -f3 | sort -u
  fi
}
# Held by a process other than the port holder (hold-ports) with PID $2, if one: the holder
# keeps every held port listening, so only the service's own holders count.
port_busy() {
  if [ -n "${2-}" ] && port_pids "$1" | grep -qx -- "$2"; then
    port_pids "$1" | grep -vqx -- "$2"
  else
    port_held "$1"
  fi
}
port_holders() {
  for pid in $(port_pids "$1"); do printf '%s %s\n' "$pid" "$(cmdline_of "$pid")"; done
}
# The process in the PID file is the holder only while it carries the holder's marker (compared
# in the shell: a path in a command line is what a user's pkill -f PATH matches).
holder_is() {
  tr '\000' '\n' 2>/dev/null < "/proc/$1/environ" | {
    while IFS= read -r entry; do [ "$entry" != "$holder_marker=$2" ] || exit 0; done
    exit 1
  }
}
holder_holds() {
  holder=; held=
  read -r holder 2>/dev/null < "$1/pid" || return 1
  read -r held 2>/dev/null < "$1/listen" || return 1
  [ "$held" = "$2" ] && process_alive "$holder" && holder_is "$holder" "$3"
}
record_state() {
  umask 077
  {
    printf '{\n  "release": "%s",\n  "sha": "%s",\n  "recorded_at": "%s",\n  "boot_id": "%s",\n  "processes": [' \
      "$2" "$3" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(cat /proc/sys/kernel/random/boot_id 2>/dev/null)"
    separator=
    while read -r kind pid group start _; do
      [ "$kind" = signal ] || continue
      printf '%s\n    {"pid": %s, "pgid": %s, "start": %s}' "$separator" "$pid" "$group" "$start"
      separator=,
    done
    printf '\n  ]\n}\n'
  } 2>/dev/null > "$1.tmp" && (cd -- "${1%/*}" && mv -f -- "${1##*/}.tmp" "${1##*/}") && return
  # A full disk: no half-written file stays; the next stop finds the service by its marker.
  (cd -- "${1%/*}" && rm -f -- "${1##*/}.tmp")
  printf 'could not record the service'"'"'s processes in %s (the disk may be full); the next stop finds them by their DEPLOY_TARGET marker\n' "$1"
}
}

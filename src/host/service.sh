# shellcheck shell=sh
# Host-side functions for finding the service (README, "How the action finds your service"), sent
# ahead of every script that needs them (SERVICE_FUNCTIONS, processes.ts). They read /proc
# directly, so they need neither ps, pgrep nor a particular awk; a scan is one awk pass (plus ss
# when asked), and a zombie never counts as running.
#
# - recorded_processes STATE: the R lines of state.json, for service_scan (read once a step: the
#   file only changes at start). state.json's one reader; record_state is its one writer.
# - service_scan TARGET RECORDED PATTERN GROUPS [HOLDER_PORTS [pids]]: the selection
#   (select-service.awk); with pids, only the PIDs to act on, on one line.
# - now_s: whole seconds since boot into $now, without starting a process.
# - start_of PID: start time in clock ticks since boot (field 22 of stat).
# - cmdline_of PID (one line, at most 300 characters), user_of PID, epoch_of TICKS.
# - port_held PORT, port_pids PORT, port_holders PORT (pid command line per listener);
#   port_busy PORT HOLDER: held by a process other than the port holder HOLDER (hold-ports).
# - record_state STATE RELEASE SHA: writes state.json from signal lines on stdin (STATE holds a /;
#   the rename runs beside it, so its command line names no directory). A write that fails leaves
#   the old file, says so and succeeds: the service still runs.
#
# Set by processes.ts before this file: the awk program, and the names of the markers.
: "${select_service:?}" "${control_marker:?}" "${holder_marker:?}" "${target_marker:?}"
# Whether this awk splits records on NUL (busybox's does not): asked once per script.
awk_splits_nul=$(printf 'a\000b\000' | awk 'BEGIN { RS = "\000" } END { print NR }')
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
  VSD_TARGET=$1 VSD_PATTERN=$2 awk -v self="$$" -v pids_only="$3" -v control_name="$control_marker" -v holder_name="$holder_marker" -v marker_name="$target_marker" "$select_service" /proc/[0-9]*/stat $4
}
service_scan() {
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

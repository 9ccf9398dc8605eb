import { CONTROL_MARKER } from '../remote.js'
import { quote, ShellCode } from '../shell.js'
import { STEP_FUNCTIONS } from '../protocol.js'

/** Names the target a process was started for; every process the action starts inherits it. */
export const TARGET_MARKER = 'DEPLOY_TARGET'

/** More process-match hits than this and stop refuses: the pattern is too broad to be the service. */
export const MAX_PATTERN_HITS = 10

/**
 * Chooses the service's processes in one awk pass. It reads /proc itself: the `stat` and, where
 * this awk splits records on NUL, the `environ` and `cmdline` files named as its arguments. The
 * target and the process-match pattern come in its environment (VSD_TARGET, VSD_PATTERN), never
 * its command line, so a user's `pkill -f` cannot match this awk. The rest comes as tagged lines
 * on stdin:
 *
 * - `E pid control` / `E pid target VALUE` — markers, from `environ_markers` on an awk without NUL
 * - `C pid COMMAND LINE` — a command line, from `cmdline_lines` on an awk without NUL
 * - `R pid start pgid` — recorded by the last deploy; counts only if the start time still matches
 * - `H pid` — holds a service port; `G pgid` — a group to include
 *
 * A process-match hit is a command line (arguments joined by spaces) that the pattern, an
 * extended regular expression, matches: what `pgrep -f` would find.
 *
 * Prints `signal PID PGID START SOURCE WHY…` for each process to act on, `skip PID - - - WHY…` for
 * each candidate that is protected, and `group PGID - - - -` for each process group included.
 * A group is included only while its leader is gone or is itself the service, so a hit inside a
 * shell's or a supervisor's group never takes the whole group with it.
 */
const SELECT_SERVICE = String.raw`
function pid_of(file) { sub(/^\/proc\//, "", file); sub(/\/[a-z]+$/, "", file); return file }
function read_stat(file,   line, pid, name, field) {
  if ((getline line < file) <= 0) return
  pid = pid_of(file)
  name = line; sub(/^[^(]*\(/, "", name); sub(/\) [^)]*$/, "", name)
  sub(/.*\) /, "", line); split(line, field, " ")
  ppid[pid] = field[2]; pgid[pid] = field[3]; state[pid] = field[1]; start[pid] = field[20]
  kthread[pid] = int(field[7] / 2097152) % 2; comm[pid] = name
}
function read_environ(file,   entry, pid) {
  pid = pid_of(file)
  RS = "\0"
  while ((getline entry < file) > 0) marker(pid, entry)
  RS = "\n"
}
function read_cmdline(file,   entry, text, count) {
  RS = "\0"
  while ((getline entry < file) > 0) text = (count++ ? text " " : "") entry
  RS = "\n"
  command_line(pid_of(file), text)
}
function command_line(pid, text) {
  if (pattern != "" && text != "" && text ~ pattern && (pid in start)) {
    add(pid, "pattern", "matched by process-match"); include(pgid[pid], "of a process-match hit")
  }
}
function marker(pid, entry) {
  if (entry == "${CONTROL_MARKER}=1") control[pid] = 1
  else if (entry ~ /^${TARGET_MARKER}=/) marked[pid] = substr(entry, ${TARGET_MARKER.length + 2})
}
function add(pid, source, why) { if (!(pid in source_of)) { source_of[pid] = source; why_of[pid] = why } }
function include(group, why) { if (group + 0 > 1 && !(group in groups)) groups[group] = why }
function protected(pid) {
  if (pid == 1) return "PID 1"
  if (kthread[pid]) return "a kernel thread"
  if (comm[pid] ~ /^sshd/) return "an sshd process"
  if (pid in ancestor) return "the action's own session"
  if (pid in control) return "a command of this action (this deploy or a concurrent one)"
  if ((pid in marked) && marked[pid] != target) return "it carries another target's marker (DEPLOY_TARGET=" marked[pid] ")"
  return ""
}
BEGIN {
  target = ENVIRON["VSD_TARGET"]; pattern = ENVIRON["VSD_PATTERN"]
  for (i = 1; i < ARGC; i++) {
    if (ARGV[i] ~ /\/stat$/) read_stat(ARGV[i])
    else if (ARGV[i] ~ /\/cmdline$/) read_cmdline(ARGV[i])
    else read_environ(ARGV[i])
    close(ARGV[i])
  }
  ARGC = 1
}
$1 == "E" { value = $0; sub(/^E [0-9]+ [a-z]+ ?/, "", value); marker($2, $3 == "control" ? "${CONTROL_MARKER}=1" : "${TARGET_MARKER}=" value); next }
$1 == "R" { if (($2 in start) && start[$2] == $3) { add($2, "recorded", "recorded by the last deploy"); include($4, "recorded by the last deploy") } next }
$1 == "C" { text = $0; sub(/^C [0-9]+ /, "", text); command_line($2, text); next }
$1 == "H" { if ($2 in start) { add($2, "holder", "holds a service port"); include(pgid[$2], "of a service port holder") } next }
$1 == "G" { include($2, "stopped by this deploy"); next }
END {
  for (p = self; (p in ppid) && !(p in ancestor); p = ppid[p]) ancestor[p] = 1
  for (pid in marked) if (marked[pid] == target) add(pid, "marker", "carries DEPLOY_TARGET=" target)
  for (group in groups) {
    if ((group in start) && !(group in source_of)) { delete groups[group]; continue }
    if ((group in start) && protected(group) != "") { delete groups[group]; continue }
    if (!pids_only) print "group", group, "-", "-", "-", "-"
  }
  for (pid in pgid) if ((pgid[pid] in groups) && !(pid in source_of)) add(pid, "group", "in process group " pgid[pid] " " groups[pgid[pid]])
  for (pid in source_of) {
    if (!(pid in start) || state[pid] == "Z") continue
    why = protected(pid)
    if (why == "" && pids_only) printf " %s", pid
    else if (why == "") print "signal", pid, pgid[pid], start[pid], source_of[pid], why_of[pid]
    else if (source_of[pid] != "group" && !pids_only) print "skip", pid, "-", "-", "-", why
  }
}`

/**
 * Host-side shell functions for finding the service (README, "How the action finds your service"). They read
 * /proc directly, so they need neither ps, pgrep nor a particular awk; a scan is one awk pass
 * (plus ss when asked), and a zombie never counts as running.
 *
 * - `recorded_processes STATE`: the `R` lines of state.json, for `service_scan` (read once a step:
 *   the file only changes at start).
 * - `service_scan TARGET RECORDED PATTERN GROUPS [HOLDER_PORTS [pids]]`: the selection
 *   (SELECT_SERVICE); with `pids`, only the PIDs to act on, on one line.
 * - `now_s`: whole seconds since boot into `$now`, without starting a process.
 * - `start_of PID`: start time in clock ticks since boot (field 22 of stat).
 * - `cmdline_of PID` (one line, at most 300 characters), `user_of PID`, `epoch_of TICKS`.
 * - `port_held PORT`, `port_pids PORT`, `port_holders PORT` (`pid command line` per listener).
 * - `record_state STATE RELEASE SHA`: writes state.json from `signal` lines on stdin (STATE holds a
 *   `/`; the rename runs beside it, so its command line names no directory). A write that fails
 *   leaves the old file, says so and succeeds: the service still runs.
 */
export const SERVICE_FUNCTIONS = new ShellCode(`${STEP_FUNCTIONS.text}
select_service=${quote(SELECT_SERVICE)}
${String.raw`# Whether this awk splits records on NUL (busybox's does not): asked once per script.
awk_splits_nul=$(printf 'a\000b\000' | awk 'BEGIN { RS = "\000" } END { print NR }')
# Markers for an awk that cannot read environ files itself: one tr per readable process.
environ_markers() {
  for file in /proc/[0-9]*/environ; do
    [ -r "$file" ] || continue
    tr '\000' '\n' 2>/dev/null < "$file" | awk -v file="$file" '
      NR == 1 { pid = file; sub(/^\/proc\//, "", pid); sub(/\/environ$/, "", pid) }
      $0 == "${CONTROL_MARKER}=1" { print "E", pid, "control" }
      /^${TARGET_MARKER}=/ { print "E", pid, "target", substr($0, ${TARGET_MARKER.length + 2}) }'
  done
}
recorded_processes() {
  [ -f "$1" ] || return 0
  read -r boot < /proc/sys/kernel/random/boot_id 2>/dev/null || boot=
  # PIDs recorded before the last reboot name other processes now: only this boot's count.
  awk -v boot="$boot" '
    index($0, "\"boot_id\": \"" boot "\"") { this_boot = 1 }
    /"pid": *[0-9]+, *"pgid": *[0-9]+, *"start": *[0-9]+/ { gsub(/[^0-9,]/, ""); split($0, n, ","); line[++count] = "R " n[1] " " n[3] " " n[2] }
    END { if (this_boot) for (i = 1; i <= count; i++) print line[i] }' < "$1"
}
# Command lines for an awk that cannot read cmdline files itself: one tr per process.
cmdline_lines() {
  for file in /proc/[0-9]*/cmdline; do
    pid=${'$'}{file#/proc/}; pid=${'$'}{pid%/cmdline}
    text=$(tr '\000\n' '  ' 2>/dev/null < "$file") || continue
    text=${'$'}{text% }
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
  VSD_TARGET=$1 VSD_PATTERN=$2 awk -v self="$$" -v pids_only="$3" "$select_service" /proc/[0-9]*/stat $4
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
now_s() { read -r now _ < /proc/uptime; now=${'$'}{now%.*}; }
start_of() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f20; }
cmdline_of() { tr '\000\n' '  ' 2>/dev/null < "/proc/$1/cmdline" | sed 's/ *$//' | cut -c1-300; }
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
port_holders() {
  for pid in $(port_pids "$1"); do printf '%s %s\n' "$pid" "$(cmdline_of "$pid")"; done
}
record_state() {
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
  } 2>/dev/null > "$1.tmp" && (cd -- "${'$'}{1%/*}" && mv -f -- "${'$'}{1##*/}.tmp" "${'$'}{1##*/}") && return
  # A full disk: no half-written file stays; the next stop finds the service by its marker.
  (cd -- "${'$'}{1%/*}" && rm -f -- "${'$'}{1##*/}.tmp")
  printf 'could not record the service'"'"'s processes in %s (the disk may be full); the next stop finds them by their DEPLOY_TARGET marker\n' "$1"
}`}`)

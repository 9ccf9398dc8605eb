# Chooses the service's processes in one awk pass. It reads /proc itself: the `stat` and, where
# this awk splits records on NUL, the `environ` and `cmdline` files named as its arguments. The
# target and the process-match pattern come in its environment (VSD_TARGET, VSD_PATTERN), never
# its command line, so a user's `pkill -f` cannot match this awk. The rest comes as tagged lines
# on stdin:
#
# - `E pid control` / `E pid target VALUE` — markers, from `environ_markers` on an awk without NUL
# - `C pid COMMAND LINE` — a command line, from `cmdline_lines` on an awk without NUL
# - `R pid start pgid` — recorded by the last deploy; counts only if the start time still matches
# - `H pid` — holds a service port; `G pgid` — a group to include
#
# A process-match hit is a command line (arguments joined by spaces) that the pattern, an
# extended regular expression, matches: what `pgrep -f` would find.
#
# Prints `signal PID PGID START SOURCE WHY…` for each process to act on, `skip PID - - OWN WHY…` for
# each candidate that is protected (OWN is `own` for the action's own processes, whose command
# lines are its code, else `-`), and `group PGID - - - -` for each process group included.
# A group is included only while its leader is gone or is itself the service, so a hit inside a
# shell's or a supervisor's group never takes the whole group with it.
#
# With overlap (README, "Overlap"), two instances of the service run at once, told apart by their
# start time: VSD_KEEP (environment) `new MARK` keeps every process started at or after MARK (the
# new release's, while the old one is retired), `old MARK` every one started before it (the old
# one's, while a failed new one is withdrawn). A kept process is never chosen, nor its group.
#
# Variables (-v): self (the scanning shell), pids_only, and the names of the markers:
# control_name (VERIFIED_SSH_DEPLOY_CONTROL), holder_name (VERIFIED_SSH_DEPLOY_HOLDER, the port
# holder of hold-ports) and marker_name (DEPLOY_TARGET).
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
  if (entry == control_name "=1") control[pid] = 1
  else if (index(entry, holder_name "=") == 1) holder[pid] = 1
  else if (index(entry, marker_name "=") == 1) marked[pid] = substr(entry, length(marker_name) + 2)
}
function add(pid, source, why) { if (!(pid in source_of)) { source_of[pid] = source; why_of[pid] = why } }
function include(group, why) { if (group + 0 > 1 && !(group in groups)) groups[group] = why }
function own(pid) {
  if (pid in ancestor) return "the action's own session"
  if (pid in holder) return "the port holder of hold-ports"
  if (pid in control) return "a command of this action (this deploy or a concurrent one)"
  return ""
}
function protected(pid,   why) {
  if (pid == 1) return "PID 1"
  if (kthread[pid]) return "a kernel thread"
  if (comm[pid] ~ /^sshd/) return "an sshd process"
  why = own(pid)
  if (why != "") return why
  if (keep == "new" && start[pid] + 0 >= keep_mark + 0) return "started after the overlap began: the new release's, which stays"
  if (keep == "old" && start[pid] + 0 < keep_mark + 0) return "started before the overlap began: the old release's, which stays"

  if ((pid in marked) && marked[pid] != target) return "it carries another target's marker (" marker_name "=" marked[pid] ")"
  return ""
}
BEGIN {
  target = ENVIRON["VSD_TARGET"]; pattern = ENVIRON["VSD_PATTERN"]
  split(ENVIRON["VSD_KEEP"], kept, " "); keep = kept[1]; keep_mark = kept[2]
  for (i = 1; i < ARGC; i++) {
    if (ARGV[i] ~ /\/stat$/) read_stat(ARGV[i])
    else if (ARGV[i] ~ /\/cmdline$/) read_cmdline(ARGV[i])
    else read_environ(ARGV[i])
    close(ARGV[i])
  }
  ARGC = 1
}
$1 == "E" { value = $0; sub(/^E [0-9]+ [a-z]+ ?/, "", value); marker($2, $3 == "control" ? (control_name "=1") : $3 == "holder" ? (holder_name "=1") : (marker_name "=" value)); next }
$1 == "R" { if (($2 in start) && start[$2] == $3) { add($2, "recorded", "recorded by the last deploy"); include($4, "recorded by the last deploy") } next }
$1 == "C" { text = $0; sub(/^C [0-9]+ /, "", text); command_line($2, text); next }
$1 == "H" { if ($2 in start) { add($2, "holder", "holds a service port"); include(pgid[$2], "of a service port holder") } next }
$1 == "G" { include($2, "stopped by this deploy"); next }
END {
  for (p = self; (p in ppid) && !(p in ancestor); p = ppid[p]) ancestor[p] = 1
  for (pid in marked) if (marked[pid] == target) add(pid, "marker", "carries " marker_name "=" target)
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
    else if (source_of[pid] != "group" && !pids_only) print "skip", pid, "-", "-", (why == own(pid) ? "own" : "-"), why
  }
}

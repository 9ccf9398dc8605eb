# shellcheck shell=sh
# stop, a host-step body (see host-step.ts): note when the stop began, run the stop-command, then
# SIGTERM every process of the service (README, "How the action finds your service"), saying per
# process why it was chosen. A process-match that hits more than a handful of processes, or
# processes of several users, is refused before anything is signalled. Leaves recorded,
# stopped_pids and stopped_groups for wait-for-exit.
#
# Inputs (stopBody, commands/stop.ts): stop_target; stop_state, state.json inside the target;
# stop_pattern, process-match (may be empty); stop_live, where the stop-command runs (empty: there is
# none); stop_environment and stop_command, the stop-command for exec_user_command; max_hits; the
# exit code pattern_too_broad; stop_keep (overlap: `new MARK` or `old MARK`, empty otherwise), the
# instance that stays, left out of this scan and of wait-for-exit's (scan_keep). A stop-command that fails is noted (`data stop-command-failed CODE
# [first]`), and the stop goes on. From the host step: step_key and the host library.
: "${stop_target:?}" "${stop_state:?}" "${stop_pattern?}" "${stop_live?}" "${stop_environment?}" "${stop_command?}" "${max_hits:?}"
: "${pattern_too_broad:?}" "${step_key:?}" "${stop_keep?}"
# Overlap: what is new was told from what is old when the new release started (its mark).
if [ -n "$stop_keep" ]; then stop_mark=${stop_keep#* }; else stop_mark=$(start_of $$); fi
printf '@@%s data mark %s\n' "$step_key" "$stop_mark"
# Which boot of the host this step ran in: a later reader tells a reboot from a kill by it.
read -r boot 2>/dev/null < /proc/sys/kernel/random/boot_id || boot=
printf '@@%s data boot %s\n' "$step_key" "$boot"
if [ -n "$stop_live" ]; then
  # Before a first deploy there is nothing live: the command runs from the target, and may fail.
  if [ -d "$stop_live" ]; then dir=$stop_live; first=; else dir=$stop_target; first=1; fi
  (cd -- "$dir" || exit 1
  exec_user_command "$stop_environment" "$stop_command" < /dev/null) 2>&1
  status=$?
  # As systemd treats a failing ExecStop=: a note, and the service is stopped the action's way.
  if [ "$status" -ne 0 ]; then
    printf '@@%s data stop-command-failed %s%s\n' "$step_key" "$status" "${first:+ first}"
    printf 'stop-command exited with code %s; stopping the service by its marker, recorded processes and process-match as always\n' "$status"
  else
    echo 'stop-command finished'
  fi
fi
pattern=$stop_pattern
# shellcheck disable=SC2034 # read by service_scan (library.sh), here and in wait-for-exit
scan_keep=$stop_keep
recorded=$(recorded_processes "$stop_state")
scan=$(service_scan "$stop_target" "$recorded" "$pattern" '' '')
hits=$(printf '%s\n' "$scan" | awk '$1 == "signal" && $5 == "pattern" { print $2 }')
count=0; users=
for pid in $hits; do
  # A hit gone since the scan (a short-lived command) is nobody's service.
  user=$(user_of "$pid"); [ -n "$user" ] || continue
  count=$((count + 1))
  case " $users " in *" $user "*) ;; *) users="$users $user" ;; esac
done
several=; case "$users" in " "*" "*) several=1 ;; esac
if [ "$count" -gt "$max_hits" ] || [ -n "$several" ]; then
  printf '@@%s error process-match %s matches %s processes of user(s)%s; nothing was signalled:\n' "$step_key" "'$pattern'" "$count" "$users"
  for pid in $hits; do user=$(user_of "$pid") && [ -n "$user" ] && printf '@@%s error   %s %s: %s\n' "$step_key" "$pid" "$user" "$(cmdline_of "$pid")"; done
  exit "$pattern_too_broad"
fi
# The log lines are written before the signals, so the service is not kept waiting for them.
said=$(printf '%s\n' "$scan" | while read -r kind pid _ _ owner why; do
  case $kind in
    signal) printf 'SIGTERM to %s (%s): %s\n' "$pid" "$(cmdline_of "$pid")" "$why" ;;
    # A protected process that is already gone (a pipeline of the action's own) is not worth a line.
    # The action's own are named by program: their command lines are the action's scripts.
    skip)
      if [ "$owner" = own ]; then command=$(cat "/proc/$pid/comm" 2>/dev/null); else command=$(cmdline_of "$pid"); fi
      [ -z "$command" ] || printf 'not signalling %s (%s): %s\n' "$pid" "$command" "$why" ;;
  esac
done)
stopped_pids=
# shellcheck disable=SC2034 # read by wait-for-exit, the next body
stopped_groups=
eval "$(printf '%s\n' "$scan" | awk '$1 == "signal" { pids = pids " " $2 } $1 == "group" { groups = groups " " $2 } END { printf "stopped_pids=\"%s\"; stopped_groups=\"%s\"\n", pids, groups }')"
# shellcheck disable=SC2086 # one word per PID
[ -z "$stopped_pids" ] || kill -TERM $stopped_pids 2>/dev/null
[ -z "$said" ] || printf '%s\n' "$said"
[ -n "$stopped_pids" ] || echo "nothing to stop: no process carries this target's marker, none was recorded, and process-match found none"

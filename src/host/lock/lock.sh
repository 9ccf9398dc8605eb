# shellcheck shell=sh
# Takes the deploy lock (lock.ts). mkdir is atomic: whoever creates the directory holds the lock.
# The owner is written first, beside it, and renamed in (a rename needs no space), so a full disk
# never leaves a lock without an owner; a mkdir that fails while no lock exists is an error, not a
# wait. Waits, polling each second, while the SSH session that started it is still there. A lock
# whose heartbeat is stale (stale_lock) is moved aside and broken: printed as `broken OWNER`, with
# `left CURRENT` for what it left live.
#
# Inputs (acquireLockScript, lock.ts), paths inside the target, which this runs from: lock_deploy,
# the .deploy directory; lock_dir; lock_owner, the owner line; lock_pending, where it is written
# first (lock_pending_shown in messages); lock_token; lock_timeout (s); lock_stale, how old a
# heartbeat is dead (s); lock_restart_log; lock_unverified, the mark of an unverified release; the
# exit code lock_busy; lock_beat, the command that writes one heartbeat (heartbeatScript's).
# After the host library.
: "${lock_deploy:?}" "${lock_dir:?}" "${lock_owner:?}" "${lock_pending:?}" "${lock_pending_shown:?}"
: "${lock_token:?}" "${lock_timeout:?}" "${lock_stale:?}" "${lock_restart_log:?}"
: "${lock_unverified:?}" "${lock_busy:?}" "${lock_beat:?}"
# Succeeds, printing the lock's owner line, when its heartbeat is lock_stale old (or from before a
# reboot) and neither a host step nor the run's watchdog runs; a lock without a heartbeat (taken by
# an older version of the action, or being taken now) is never judged.
stale_lock() {
  read -r beat 2>/dev/null < "$lock_dir/heartbeat" || return 1
  case $beat in '' | *[!0-9]*) return 1 ;; esac
  read -r up _ < /proc/uptime; up=${up%.*}
  [ "$beat" -gt "$up" ] || [ "$((up - beat))" -ge "$lock_stale" ] || return 1
  ! step_running "$lock_restart_log" || return 1
  # The run's watchdog (watchdog.ts) undoes its release and frees the lock itself.
  read -r watchdog 2>/dev/null < "$lock_dir/watchdog.pid" || watchdog=
  case $watchdog in '' | *[!0-9]*) ;; *) ! process_alive "$watchdog" || return 1 ;; esac
  read -r owner 2>/dev/null < "$lock_dir/owner" || return 1
  printf '%s\n' "$owner"
}
# The action's own directory: the deploy user's only (state, logs, the journal, venvs).
umask 077
mkdir -p -- "$lock_deploy" || exit 1
chmod 700 -- "$lock_deploy" 2>/dev/null || :
if ! printf '%s\n' "$lock_owner" 2>/dev/null > "$lock_pending"; then
  rm -f -- "$lock_pending"
  printf 'could not write %s: the disk is full, or the deploy user may not write there\n' "$lock_pending_shown" >&2
  exit 1
fi
waited=0; told=
while ! made=$(mkdir -- "$lock_dir" 2>&1); do
  if [ ! -d "$lock_dir" ]; then rm -f -- "$lock_pending"; printf '%s\n' "$made" >&2; exit 1; fi
  if dead=$(stale_lock); then
    # Moved aside (atomic, so two waiters never both break it), then checked to be the lock judged.
    aside=$lock_deploy/lock.dead-$lock_token
    if mv -- "$lock_dir" "$aside" 2>/dev/null; then
      read -r moved 2>/dev/null < "$aside/owner" || moved=
      if [ "$moved" = "$dead" ]; then
        printf 'broken %s\n' "$dead"
        printf 'left %s%s\n' "$(readlink current 2>/dev/null)" "$( [ -e "current/$lock_unverified" ] && echo ' (unverified)')"
        rm -rf -- "$aside"
      else
        mv -T -- "$aside" "$lock_dir" 2>/dev/null || rm -rf -- "$aside"
      fi
    fi
    continue
  fi
  # The owner is renamed in just after the mkdir: a lock caught in between is named a second later.
  held_by=$(cat 2>/dev/null < "$lock_dir/owner")
  if [ -n "$held_by" ] && { [ -z "$told" ] || [ "$((waited % 10))" = 0 ]; }; then
    printf 'waiting for the deploy lock (%s of %s s), held by: %s\n' "$waited" "$lock_timeout" "$held_by"
    told=1
  fi
  if [ "$waited" -ge "$lock_timeout" ]; then rm -f -- "$lock_pending"; printf 'owner %s\n' "$(cat 2>/dev/null < "$lock_dir/owner")"; exit "$lock_busy"; fi
  # The session that ran this is gone (a cancelled job): stop waiting, or the lock is taken for nobody.
  if ! process_alive "$PPID"; then rm -f -- "$lock_pending"; exit 1; fi
  sleep 1
  waited=$((waited + 1))
done
mv -f -- "$lock_pending" "$lock_dir/owner" || { rmdir -- "$lock_dir"; rm -f -- "$lock_pending"; exit 1; }
eval "$lock_beat"

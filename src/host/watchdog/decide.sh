# shellcheck shell=sh
# Takes the decision on the provisional release as decide_as (confirmed after verify, rollback
# before the run's own rollback), unless the watchdog took it (watchdog.ts). Prints `mine` (also
# when nothing was armed, or another deploy broke the lock: its restart step's fence then stops
# this run) or `undone`, then, once the watchdog is done, this run's journal lines (journal_lines).
#
# Inputs (decideScript): decide_target; decide_lock, the lock inside the target; decide_token;
# decide_as; decide_release; decide_unverified, the mark to remove on confirmation; decide_journal;
# decide_wait (s). After the host library, with this run's journal.
: "${decide_target:?}" "${decide_lock:?}" "${decide_token:?}" "${decide_as:?}" "${decide_release:?}"
: "${decide_unverified:?}" "${decide_journal:?}" "${decide_wait:?}"
cd -- "$decide_target" || exit 1
# Only this run's lock holds its decision: a lock another deploy took has a mark of its own.
read -r owner 2>/dev/null < "$decide_lock/owner" || owner=
case $owner in *"$decide_token"*) mine=1 ;; *) mine= ;; esac
if { [ -n "$mine" ] && mv -T -- "$decide_lock/provisional" "$decide_lock/$decide_as" 2>/dev/null; } || { [ ! -d "$decide_lock/undo" ] && ! grep -q "^[^ ]* $decide_token undo " 2>/dev/null < "$decide_journal"; }; then
  if [ "$decide_as" = confirmed ]; then
    rm -f -- "releases/$decide_release/$decide_unverified"
    journal confirmed "$decide_release"
  else
    journal rollback "$decide_release: the run rolls back itself"
  fi
  echo mine
  exit 0
fi
echo undone
read -r pid 2>/dev/null < "$decide_lock/watchdog.pid" || pid=
waited=0
while [ -n "$pid" ] && process_alive "$pid" && [ "$waited" -lt "$decide_wait" ]; do sleep 1; waited=$((waited + 1)); done
journal_lines

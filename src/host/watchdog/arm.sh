# shellcheck shell=sh
# Arms the watchdog before anything stops (watchdog.ts): its script, from stdin, goes into the
# lock (written beside it and renamed in), its PID file is made at its fixed width, the decision
# directory provisional is made, and the journal is cut to its last lines and gets room for this
# deploy, so a disk that fills later cannot cut a line of it.
#
# Inputs (armScript): arm_target; arm_lock, the lock inside the target; arm_journal; arm_keep, the
# lines the journal keeps; arm_reserve, the bytes set aside; arm_release, arm_fallback. Before it:
# the function journal.
: "${arm_target:?}" "${arm_lock:?}" "${arm_journal:?}" "${arm_keep:?}" "${arm_reserve:?}"
: "${arm_release:?}" "${arm_fallback:?}"
cd -- "$arm_target" || exit 1
if ! { cat > "$arm_lock/watchdog.sh.tmp" && mv -f -- "$arm_lock/watchdog.sh.tmp" "$arm_lock/watchdog.sh"; }; then
  rm -f -- "$arm_lock/watchdog.sh.tmp"; exit 1
fi
printf '%-12s\n' - > "$arm_lock/watchdog.pid" && mkdir -p -- "$arm_lock/provisional" || exit 1
if [ "$(wc -l 2>/dev/null < "$arm_journal" || echo 0)" -gt "$arm_keep" ]; then
  { tail -n "$((arm_keep / 2))" < "$arm_journal" > "$arm_journal.tmp" && mv -f -- "$arm_journal.tmp" "$arm_journal"; } 2>/dev/null || rm -f -- "$arm_journal.tmp"
fi
: >> "$arm_journal" && { fallocate -n -l "$arm_reserve" "$arm_journal" 2>/dev/null || :; }
journal armed "$arm_release: falls back to $arm_fallback"

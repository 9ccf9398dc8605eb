# shellcheck shell=sh
# Removes the lock only if this run still owns it (lock.ts), once no restart step writes its
# output any more (wait_for_step, before it). The run's release goes first unless current names it
# (release_discard): one that was cancelled before its switch, or left by a failure. Prints
# `released`, `other OWNER` or `gone`. From inside the lock, then the target: a path in a command
# line is what pkill -f PATH matches.
#
# Inputs (releaseLockScript): release_lock, the lock directory; release_token; release_discard, the
# script that removes the run's release. After the host library, with the run's journal (named
# relative to the lock's parent).
: "${release_lock:?}" "${release_token:?}" "${release_discard:?}"
if cd -- "$release_lock" 2>/dev/null && grep -qF -- "$release_token" owner 2>/dev/null; then
  (eval "$release_discard")
  cd .. && rm -rf -- lock && echo released && journal released the lock
elif [ -d "$release_lock" ]; then printf 'other %s\n' "$(cat 2>/dev/null < owner)"
else echo gone; fi

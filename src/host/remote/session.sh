# shellcheck shell=sh
# The action's one shell on a host (HostShell, remote.ts): the login shell runs once per
# connection, its start-up files with it, and every command of the run is a job of this loop.
# Frames come on stdin, one at a time; the action sends the next only after this loop has
# acknowledged the last (`ack`), so a `head -c` that reads ahead finds nothing more in the pipe.
# Scripts are read with the shell's own `read` (which takes a pipe a byte at a time), so the first
# command, the check for the tools the action needs, runs on a host that lacks them:
#
#   run ID LINES MODE  then LINES lines of script, run as a job: MODE `none` (stdin from /dev/null),
#                      `in` (stdin from the data frames that follow), `quiet` (no output, no end
#                      marker: the lock's heartbeat, which runs beside another job)
#   data ID SIZE       then SIZE bytes for the stdin of job ID
#   eof ID             job ID's stdin ends
#
# What this loop prints is keyed (`@@KEY KIND …`, protocol.ts): `ready` on stdout and stderr once
# it reads frames (what the login shell printed before it is its start-up files' noise), `ack`
# after each frame, and at a job's end `done ID CODE` on stdout and `done ID` on stderr (a job's
# output is what its streams carried before those). A marker may follow text that has no newline
# yet; it always ends its line.
#
# Input: vsd_key. Its variables and functions are named vsd_*, apart from a job's own.
: "${vsd_key:?}"
vsd_fifos=
vsd_nl=$(printf '\n.')
vsd_nl=${vsd_nl%.}
vsd_done() {
  printf '@@%s done %s %s\n' "$vsd_key" "$1" "$2"
  printf '@@%s done %s\n' "$vsd_key" "$1" >&2
}
# A FIFO for a job's stdin (its path in vsd_in), in a directory of this loop's own (0700), gone
# when the loop ends.
vsd_fifo() {
  if [ -z "$vsd_fifos" ]; then
    for vsd_base in "${TMPDIR:-/tmp}" "$HOME"; do
      mkdir -m 700 -- "$vsd_base/.vsd-session-$vsd_key" 2>/dev/null && vsd_fifos=$vsd_base/.vsd-session-$vsd_key && break
    done
    [ -n "$vsd_fifos" ] || return 1
    trap 'rm -rf -- "$vsd_fifos"' EXIT
  fi
  vsd_in=$vsd_fifos/in-$1
  mkfifo -- "$vsd_in"
}
printf '@@%s ready\n' "$vsd_key"
printf '@@%s ready\n' "$vsd_key" >&2
while IFS=' ' read -r vsd_verb vsd_id vsd_size vsd_mode; do
  case $vsd_id$vsd_size in *[!0-9]*) printf '@@%s broken frame %s\n' "$vsd_key" "$vsd_verb"; exit 1 ;; esac
  case $vsd_verb in
    run)
      vsd_job=
      while [ "$vsd_size" -gt 0 ] && IFS= read -r vsd_line; do
        vsd_job=$vsd_job$vsd_line$vsd_nl
        vsd_size=$((vsd_size - 1))
      done
      case $vsd_mode in
        quiet) (eval "$vsd_job") < /dev/null > /dev/null 2>&1 3>&- & ;;
        in)
          if vsd_fifo "$vsd_id"; then
            { (eval "$vsd_job") < "$vsd_in"; vsd_done "$vsd_id" "$?"; } &
            exec 3> "$vsd_in"
            rm -f -- "$vsd_in"
          else
            printf 'the action could not make a pipe for its command in %s or %s\n' "${TMPDIR:-/tmp}" "$HOME" >&2
            vsd_done "$vsd_id" 125
          fi
          ;;
        *) { (eval "$vsd_job") < /dev/null 3>&-; vsd_done "$vsd_id" "$?"; } & ;;
      esac
      ;;
    data)
      # What a job that has ended no longer reads is still taken off stdin, so frames stay whole.
      head -c "$vsd_size" | { cat >&3; cat > /dev/null; } 2>/dev/null
      ;;
    eof) exec 3>&- ;;
    *) printf '@@%s broken frame %s\n' "$vsd_key" "$vsd_verb"; exit 1 ;;
  esac
  printf '@@%s ack\n' "$vsd_key"
done

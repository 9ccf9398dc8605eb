# shellcheck shell=sh
# Where version-url points, seen from the host (tasks/verify.ts probeFor): the one address its host
# name resolves to there (`address A`; an address literal is itself; nothing: `unresolved`), and
# the host's own addresses (`local A`, one line each), so verify can tell whether the URL names
# this host, and whose listener answers it.
#
# Inputs (urlHostScript): url_host, the URL's host name or address (no brackets).
: "${url_host:?}"
case $url_host in
  *:* | *[0-9]) case $url_host in *[!0-9a-fA-F:.]*) address= ;; *) address=$url_host ;; esac ;;
  *) address= ;;
esac
if [ -z "$address" ]; then
  # The name travels in the environment: a command line holding it is what pkill -f matches.
  address=$(getent ahosts "$url_host" 2>/dev/null | awk 'NR == 1 { print $1 }')
  [ -n "$address" ] || address=$(VSD_NAME=$url_host awk '!/^[ \t]*#/ { for (i = 2; i <= NF; i++) if ($i == ENVIRON["VSD_NAME"]) { print $1; exit } }' /etc/hosts 2>/dev/null)
fi
if [ -n "$address" ]; then printf 'address %s\n' "$address"; else echo unresolved; fi
if command -v ip >/dev/null 2>&1; then
  ip -o addr show 2>/dev/null | awk '{ sub(/\/.*/, "", $4); print "local", $4 }'
else
  awk '/\/32 host LOCAL/ { print "local", previous } { previous = $2 }' /proc/net/fib_trie 2>/dev/null | sort -u
fi

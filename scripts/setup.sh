#!/bin/sh
# The host tools a command of this project needs, installed on Debian or Ubuntu (apt-get, as root),
# or named with the one command that installs them. `npm run demo` runs it with `demo`, `npm test`
# with `test`, `npm run test:fast` with `unit`, and .ci/run with `test`. Quick when nothing is
# missing: it only looks.
#
#   demo  sshd and the SSH tools, git, python3 with venv and pip, setsid
#   unit  shellcheck, busybox, mawk and gawk (the host scripts' checks), python3
#   test  all of those, and what the end-to-end tests use: pgrep, ss and ip, unshare and setpriv,
#         the login shells fish, tcsh and zsh, strace, socat (a proxy-command), sudo, and Debian's
#         gunicorn, uvicorn, FastAPI, Flask, and Chromium (the timeline as Mermaid renders it)
set -eu
what=${1:-}
case $what in
  demo | unit | test) ;;
  *) echo "usage: sh scripts/setup.sh demo|unit|test" >&2; exit 2 ;;
esac

missing=
# need PACKAGE CHECK: PACKAGE is missing unless the shell command CHECK succeeds.
need() {
  case " $missing " in *" $1 "*) return ;; esac
  sh -c "$2" >/dev/null 2>&1 || missing="$missing $1"
}
has() { echo "command -v $1"; }

need python3 "$(has python3)"
if [ "$what" != unit ]; then
  need openssh-server '[ -x /usr/sbin/sshd ]'
  need openssh-client "$(has ssh-keygen) && $(has ssh-keyscan)"
  need git "$(has git)"
  need util-linux "$(has setsid)"
  need python3-venv "python3 -c 'import venv, ensurepip'"
  need python3-pip 'python3 -m pip --version'
fi
if [ "$what" != demo ]; then
  need shellcheck "$(has shellcheck)"
  need busybox "$(has busybox)"
  need mawk "$(has mawk)"
fi
if [ "$what" = test ]; then
  need procps "$(has pgrep)"
  need iproute2 "$(has ss) && $(has ip)"
  need util-linux "$(has unshare) && $(has setpriv)"
  for tool in fish tcsh zsh strace socat sudo chromium; do need "$tool" "$(has "$tool")"; done
  # The real servers' tests check their modules with Debian's own python3.
  for module in gunicorn:gunicorn uvicorn:python3-uvicorn fastapi:python3-fastapi flask:python3-flask; do
    need "${module#*:}" "/usr/bin/python3 -c 'import ${module%%:*}'"
  done
fi
# gawk only checks that the awk files parse under it too. Installing it makes it the system's awk:
# the alternative is put back, so the awk the tests' host scripts run stays the machine's own.
gawk_missing=
if [ "$what" != demo ] && ! command -v gawk >/dev/null 2>&1; then gawk_missing=1; fi

[ -n "$missing$gawk_missing" ] || exit 0
packages="$missing${gawk_missing:+ gawk}"
case $what in demo) command='npm run demo' ;; unit) command='npm run test:fast' ;; *) command='npm test' ;; esac
if [ "$(id -u 2>/dev/null)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    echo "$command needs:$packages. Install them with: sudo apt-get install -y$packages" >&2
  else
    echo "$command needs these Debian packages (or your system's equivalents):$packages. Install them with your package manager, then run it again." >&2
  fi
  exit 1
fi
echo "Installing for $what:$packages"
awk_before=$(readlink -f /usr/bin/awk 2>/dev/null || true)
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086 # one word per package
apt-get install -y -qq $packages >/dev/null
if [ -n "$gawk_missing" ] && [ -n "$awk_before" ] && [ "$awk_before" != "$(readlink -f /usr/bin/awk)" ]; then
  update-alternatives --set awk "$awk_before" >/dev/null
fi

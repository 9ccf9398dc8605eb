# shellcheck shell=sh
# Builds the venv for venv_hash plus the host's interpreter version, or reuses it, and links
# <tree>/.venv to it (venv.ts). The venv is built at its final path, because a venv records that
# path in its scripts (bin/pip, console scripts, activate): one renamed after the build would point
# into the temporary name. Only a venv holding venv_complete counts; a failed build is deleted, so a
# failure leaves nothing in venvs/. Prints `venv KEY built|reused`.
#
# Inputs (venvScript), run from venv_target; paths ending in _here are inside it (a path in a
# command line is what a user's pkill -f PATH matches), the others absolute, for links and
# messages: venv_python; venv_dir and venv_dir_here, the venvs directory; venv_complete, the
# file a complete venv holds; venv_hash; venv_tree,
# the new tree; venv_link_here, its .venv; venv_live and venv_live_here, the live .venv an in-place
# deploy replaces (empty: releases); the exit codes venv_exit_python, venv_exit_create,
# venv_exit_install and venv_exit_foreign; venv_install_environment and venv_install_command, the
# install command with the deploy's environment (exec_user_command). After the host library.
: "${venv_target:?}" "${venv_python:?}" "${venv_dir:?}" "${venv_dir_here:?}" "${venv_hash:?}"
: "${venv_complete:?}" "${venv_tree:?}" "${venv_link_here:?}" "${venv_live?}" "${venv_live_here?}"
: "${venv_exit_python:?}" "${venv_exit_create:?}" "${venv_exit_install:?}" "${venv_exit_foreign:?}"
: "${venv_install_environment?}" "${venv_install_command:?}"
cd -- "$venv_target" || exit 1
if [ -n "$venv_live" ] && { [ -e "$venv_live_here" ] || [ -L "$venv_live_here" ]; } && case $(readlink -- "$venv_live_here" 2>/dev/null) in "$venv_dir"/*) false ;; *) true ;; esac; then
  printf '%s exists and is not a link into %s\n' "$venv_live" "$venv_dir"; exit "$venv_exit_foreign"
fi
# -I -S: no site import, so asking the version costs the interpreter's bare start-up only.
version=$("$venv_python" -I -S -c 'import sys; print(sys.implementation.name + "-%d.%d.%d" % sys.version_info[:3])' < /dev/null) || exit "$venv_exit_python"
key=$venv_hash-$version
venv=$venv_dir/$key
if [ -f "$venv/$venv_complete" ]; then how=reused; else
  how=built
  mkdir -p -- "$venv_dir_here" || exit 1
  # Made by its name from inside venvs/: Python records the absolute path in the venv itself.
  if ! (cd -- "$venv_dir_here" && rm -rf -- "$key" && "$venv_python" -m venv -- "$key") < /dev/null 2>&1; then
    (cd -- "$venv_dir_here" && rm -rf -- "$key"); exit "$venv_exit_create"
  fi
fi
rm -rf -- "$venv_link_here" && ln -s -- "$venv" "$venv_link_here" || exit 1
if [ "$how" = built ]; then
  # The install runs with the tree's .venv already linked, so it sees the environment start will.
  if ! (cd -- "$venv_tree" || exit 1
    exec_user_command "$venv_install_environment" "$venv_install_command" < /dev/null 2>&1); then
    rm -rf -- "${venv_dir_here:?}/$key" "$venv_link_here"; exit "$venv_exit_install"
  fi
  : > "$venv/$venv_complete" || exit 1
fi
printf 'venv %s %s\n' "$key" "$how"

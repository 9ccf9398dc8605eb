/**
 * A stand-in for systemd-logind, which this machine does not run (no systemd as PID 1): a
 * `loginctl` that answers `show-session`/`show-user -p NAME --value` from a policy directory, and a
 * login shell that does what logind does when an SSH session ends with KillUserProcesses=yes and
 * no lingering: every process the session started gets SIGTERM, setsid or not. The session's
 * processes are told apart by an environment variable each inherits (logind uses a cgroup).
 */
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** logind's settings and the user's, as loginctl reports them. */
export interface LogindPolicy {
  KillUserProcesses: 'yes' | 'no'
  Linger: 'yes' | 'no'
  KillExcludeUsers?: string
  KillOnlyUsers?: string
}

export interface FakeLogind {
  /** Holds `loginctl` (first on the session's PATH). */
  bin: string
  /** The login shell that ends a session's processes with it, as the policy says. */
  shell: string
  set(policy: LogindPolicy): void
}

const LOGINCTL = (policy: string) => `#!/bin/sh
# loginctl show-session -p NAME --value | loginctl show-user USER -p NAME --value
case $1 in
  show-session) name=$3 ;;
  show-user) name=$4 ;;
  *) echo "fake loginctl: $1 is not faked" >&2; exit 1 ;;
esac
cat "${policy}/$name" 2>/dev/null || echo
`

const SHELL = (policy: string, bin: string) => `#!/bin/sh
# The session: this shell's command and all it starts carry VSD_FAKE_SESSION. When the command
# ends (sshd closed the session), each process still carrying it is sent SIGTERM.
VSD_FAKE_SESSION=$$-$(cat /proc/sys/kernel/random/uuid)
PATH=${bin}:$PATH
export VSD_FAKE_SESSION PATH
/bin/sh "$@"
status=$?
if [ "$(cat "${policy}/KillUserProcesses")" = yes ] && [ "$(cat "${policy}/Linger")" != yes ]; then
  for environ in /proc/[0-9]*/environ; do
    pid=\${environ#/proc/}
    pid=\${pid%/environ}
    # Only this user's processes can be the session's (and only theirs are readable).
    [ "$pid" != $$ ] && [ -O "$environ" ] || continue
    if grep -qxzF "VSD_FAKE_SESSION=$VSD_FAKE_SESSION" "$environ" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null
    fi
  done
fi
exit $status
`

/** A fake logind in a directory of its own, readable by every test user. */
export function fakeLogind(policy: LogindPolicy): FakeLogind {
  const root = mkdtempSync(join(tmpdir(), 'vsd-logind-'))
  chmodSync(root, 0o755)
  const bin = join(root, 'bin')
  const settings = join(root, 'policy')
  mkdirSync(bin, { mode: 0o755 })
  mkdirSync(settings, { mode: 0o755 })
  writeFileSync(join(bin, 'loginctl'), LOGINCTL(settings))
  chmodSync(join(bin, 'loginctl'), 0o755)
  const shell = join(root, 'session-shell')
  writeFileSync(shell, SHELL(settings, bin))
  chmodSync(shell, 0o755)
  const set = (next: LogindPolicy) => {
    for (const name of [
      'KillUserProcesses',
      'Linger',
      'KillExcludeUsers',
      'KillOnlyUsers'
    ] as const)
      writeFileSync(join(settings, name), `${next[name] ?? ''}\n`)
  }
  set(policy)
  return { bin, shell, set }
}

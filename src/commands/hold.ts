import HOLD_SCRIPT from '../host/restart/hold.sh'
import HOLDER_PROGRAM from '../host/restart/holder.py'
import WITH_FDS_PROGRAM from '../host/restart/with-fds.py'
import type { DeployContext } from '../model/context.js'
import { relativeToTarget, type RemoteLayout } from '../remote/layout.js'
import { EXIT } from '../remote/protocol.js'
import { sh, ShellCode, withInputs } from '../remote/shell.js'
import type { Settings } from '../inputs/settings.js'

/**
 * hold-ports (README, "No refused connections"): a holder process on the host keeps the service's ports
 * listening across restarts, and each start inherits them as file descriptors 3, 4, … Its files
 * are in `.deploy/holder`: `pid`, `listen` (what it holds), `control` (its socket), `holder.log`.
 */
export const holderDir = (layout: RemoteLayout): string => `${layout.deployDir}/holder`

/** The holder's PID file; wait-for-exit and verify leave that process out of a port's holders. */
export const holderPidFile = (layout: RemoteLayout): string => `${holderDir(layout)}/pid`

/**
 * `python -c` running the program in the environment variable `variable`, popped before it runs:
 * a program in a command line is what a user's `pkill -f` matches.
 */
function pythonFromEnvironment(python: string, variable: string): ShellCode {
  return sh`${python} -c ${`import os; exec(os.environ.pop("${variable}"))`}`
}

/**
 * First in the start body: makes the holder hold `listen` (hold-ports), or stops one an earlier
 * deploy left (hold.sh).
 */
export function holdBody(ctx: DeployContext): ShellCode {
  const { settings, layout } = ctx
  const here = relativeToTarget(layout)
  return withInputs(HOLD_SCRIPT, {
    hold_dir: holderDir(here),
    hold_on: settings.holdPorts,
    hold_listen: settings.listen.join(' '),
    hold_target: layout.target,
    hold_program: HOLDER_PROGRAM,
    hold_python: pythonFromEnvironment(settings.python, 'VSD_HOLDER_CODE').text,
    hold_failed: EXIT.holdFailed
  })
}

/**
 * What the detached start-command runs under with hold-ports (with-fds.py, in place of `setsid`):
 * the held sockets at fds 3, 4, …, LISTEN_FDS and LISTEN_PID set, then the command. Its program
 * and the holder's socket go in the command's environment; it pops both.
 */
export function withFdsLauncher(
  settings: Settings,
  layout: RemoteLayout
): { environment: ShellCode; launcher: ShellCode } {
  return {
    environment: sh`export VSD_WITH_FDS_CODE=${WITH_FDS_PROGRAM} VSD_HOLDER_CONTROL=${`${holderDir(layout)}/control`}`,
    launcher: sh`setsid ${pythonFromEnvironment(settings.python, 'VSD_WITH_FDS_CODE')}`
  }
}

/**
 * Before anything stops: the host's Python can pass sockets (AF_UNIX, sendmsg: Python 3.3 or
 * later). Exits 127 when there is no such Python, 3 when it cannot.
 */
export function holdCheckScript(python: string): ShellCode {
  return sh`${python} -c ${'import socket, sys; sys.exit(0 if hasattr(socket, "AF_UNIX") and hasattr(socket.socket, "sendmsg") else 3)'} < /dev/null`
}

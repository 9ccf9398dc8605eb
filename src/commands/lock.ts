import {
  enterTargetScript,
  parentOf,
  relativeToTarget,
  remoteLayout,
  UNVERIFIED_MARK,
  type RemoteLayout
} from '../remote/layout.js'
import { waitForStepScript } from '../remote/host-step.js'
import { hostLibrary } from '../remote/host-library.js'
import type { HeldLock } from '../model/post-state.js'
import { discardReleaseScript } from './prune.js'
import LOCK_SCRIPT from '../host/lock/lock.sh'
import OWNED_SCRIPT from '../host/lock/owned.sh'
import RELEASE_LOCK_SCRIPT from '../host/lock/release-lock.sh'
import { joinCode, sh, withInputs, type ShellCode } from '../remote/shell.js'
import { EXIT, STEP_KEY } from '../remote/protocol.js'
import { HEARTBEAT_STALE_SECONDS, STEP_WAIT_SECONDS } from '../model/budgets.js'

export interface LockOwner {
  run: string
  sha: string
  time: string
  token: string
}

/** Takes the lock (lock.sh), from the target, waiting up to `timeoutSeconds`. */
export function acquireLockScript(
  layout: RemoteLayout,
  owner: LockOwner,
  timeoutSeconds: number
): ShellCode {
  const here = relativeToTarget(layout)
  const pending = `lock-owner.${owner.token}`
  return joinCode([
    // Before anything is written: a target another user could swap is refused.
    sh`(
${withInputs(OWNED_SCRIPT, { owned_target: layout.target, owned_unsafe: EXIT.unsafeTarget })}
) || exit $?`,
    enterTargetScript(layout.target),
    hostLibrary(),
    withInputs(LOCK_SCRIPT, {
      lock_beat: beatScript(here).text,
      lock_deploy: here.deployDir,
      lock_dir: here.lockDir,
      lock_owner: JSON.stringify(owner),
      lock_pending: `${here.deployDir}/${pending}`,
      lock_pending_shown: `${layout.deployDir}/${pending}`,
      lock_token: owner.token,
      lock_timeout: timeoutSeconds,
      lock_stale: HEARTBEAT_STALE_SECONDS,
      lock_restart_log: here.restartLog,
      lock_unverified: UNVERIFIED_MARK,
      lock_busy: EXIT.lockBusy
    })
  ])
}

/**
 * First in the restart step (which runs from the target): nothing is stopped once the lock holds
 * another run's token, as after another deploy broke it when this run's heartbeat went stale (a
 * frozen runner that woke up). Prints the reason as `@@error`.
 */
export function lockFenceScript(layout: RemoteLayout, token: string): ShellCode {
  return sh`read -r owner 2>/dev/null < ${`${relativeToTarget(layout).lockDir}/owner`} || owner=
case $owner in *${token}*) ;; *)
  printf '@@%s error the deploy lock is no longer this run'"'"'s (held by: %s): another deploy broke it after this run sent no heartbeat for %s s. Nothing was stopped\n' ${STEP_KEY} "\${owner:-nobody}" ${HEARTBEAT_STALE_SECONDS}
  exit ${EXIT.lockLost} ;;
esac`
}

/**
 * Writes the host's uptime (whole seconds) as the lock's heartbeat, with builtins only: fixed
 * width, overwritten in place (<>), so once the file exists a full disk cannot stop the beat.
 */
function beatScript(here: RemoteLayout): ShellCode {
  return sh`read -r up _ < /proc/uptime; printf '%-12s\n' "\${up%.*}" 1<> ${`${here.lockDir}/heartbeat`}`
}

/**
 * One beat: writes the lock's heartbeat if the lock is still this run's. The runner sends one every
 * HEARTBEAT_SECONDS beside whatever else runs (Remote.runQuiet); a runner that died or froze sends
 * none, and the heartbeat goes stale.
 */
export function heartbeatScript(layout: RemoteLayout, token: string): ShellCode {
  const here = relativeToTarget(layout)
  return sh`cd -- ${layout.target} || exit 1
read -r owner 2>/dev/null < ${`${here.lockDir}/owner`} || exit 0
case $owner in *${token}*) ;; *) exit 0 ;; esac
${beatScript(here)}`
}

/**
 * Removes the lock only if this run still owns it, and only after a restart step cut off from the
 * action (a lost connection, a cancelled job) has finished on the host (release-lock.sh). The run's
 * release goes first unless `current` names it.
 */
export function releaseLockScript(
  lock: Pick<HeldLock, 'lockDir' | 'token' | 'restartLog' | 'release'>,
  postStep = false
): ShellCode {
  const target = parentOf(parentOf(lock.lockDir))
  // The post step removes the run's release only where the journal says the run uploaded it.
  const discard = lock.release
    ? discardReleaseScript(remoteLayout(target), lock.release, postStep ? lock.token : undefined)
    : sh`:`
  return joinCode([
    hostLibrary({ file: 'journal', token: lock.token }),
    waitForStepScript(lock.restartLog, STEP_WAIT_SECONDS),
    withInputs(RELEASE_LOCK_SCRIPT, {
      release_lock: lock.lockDir,
      release_token: lock.token,
      release_discard: discard.text
    })
  ])
}

import * as core from '@actions/core'
import { randomBytes } from 'node:crypto'
import {
  enterTargetScript,
  parentOf,
  relativeToTarget,
  remoteLayout,
  UNVERIFIED_MARK,
  type RemoteLayout
} from '../remote/layout.js'
import type { Remote } from '../remote/remote.js'
import { waitForStepScript } from '../remote/host-step.js'
import { journalFunction } from '../remote/journal.js'
import type { HeldLock } from '../model/post-state.js'
import { discardReleaseScript } from './prune.js'
import LOCK_SCRIPT from '../host/lock.sh'
import OWNED_SCRIPT from '../host/owned.sh'
import RELEASE_LOCK_SCRIPT from '../host/release-lock.sh'
import { joinCode, sh, withInputs, type ShellCode } from '../remote/shell.js'
import { answerOf, answersOf, EXIT, STEP_FUNCTIONS, STEP_KEY } from '../remote/protocol.js'
import { HEARTBEAT_STALE_SECONDS, ROUND_TRIP_SECONDS, STEP_WAIT_SECONDS } from '../model/budgets.js'
import { info } from '../report/host-text.js'

/** How often the runner tells the host it is alive while it holds the lock. */
export const HEARTBEAT_SECONDS = 2

export interface LockOwner {
  run: string
  sha: string
  time: string
  token: string
}

export function lockOwner(sha: string, run: string, now = new Date()): LockOwner {
  return {
    run,
    sha,
    time: now.toISOString(),
    token: randomBytes(12).toString('hex')
  }
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
    STEP_FUNCTIONS,
    sh`write_beat() { ${beatScript(here)}; }`,
    withInputs(LOCK_SCRIPT, {
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

/** The runner's side of the heartbeat: a beat every HEARTBEAT_SECONDS on the session's connection. */
export function startHeartbeat(
  session: { remote: Remote },
  layout: RemoteLayout,
  token: string
): { stop(): void } {
  const beat = heartbeatScript(layout, token)
  // One beat at a time: a beat still on its way (a slow link) is not joined by another.
  let sending: Promise<void> | undefined
  const timer = setInterval(() => {
    sending ??= session.remote
      .runQuiet(beat)
      .catch(() => undefined)
      .finally(() => (sending = undefined))
  }, HEARTBEAT_SECONDS * 1000)
  timer.unref()
  return { stop: () => clearInterval(timer) }
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
    waitForStepScript(lock.restartLog, STEP_WAIT_SECONDS),
    journalFunction('journal', lock.token),
    sh`discard_release() {
${discard}
}`,
    withInputs(RELEASE_LOCK_SCRIPT, { release_lock: lock.lockDir, release_token: lock.token })
  ])
}

/** What a lock release did, in words, from its output (see releaseLockScript). */
export function releaseOutcome(lock: HeldLock, stdout: string): string {
  if (answerOf(stdout, 'released') !== undefined)
    return `Released ${lock.lockDir}${answerOf(stdout, 'discarded') !== undefined ? `, and removed the run's release ${lock.release}, which is not live` : ''}`
  const other = answerOf(stdout, 'other')
  if (other !== undefined)
    return `Left ${lock.lockDir} alone: it is held by another deploy now (${describeOwner(other)})`
  return `${lock.lockDir} was already gone`
}

function describeOwner(text: string): string {
  try {
    const owner = JSON.parse(text) as LockOwner
    return `${owner.run} (deploying ${owner.sha.slice(0, 12)}, since ${owner.time})`
  } catch {
    return text.trim() || 'an unknown owner (the owner file is empty)'
  }
}

/** The refusal of a target another local user could change (owned.sh's `unsafe` line), with the fix. */
export function unsafeTargetMessage(stdout: string, user: string): string {
  const [, path, uid, mode, why] =
    /^(.+) (\d+) (\S+) (owner|writable)$/.exec(answerOf(stdout, 'unsafe') ?? '') ?? []
  const problem =
    why === 'owner'
      ? `${path} belongs to uid ${uid} (mode ${mode}), not to the deploy user ${user} or root`
      : `${path} is writable by users other than its owner (mode ${mode}, owner uid ${uid})`
  const fix = why === 'owner' ? `sudo chown ${user} '${path}'` : `chmod go-w '${path}'`
  return (
    `${problem}: another local user could swap what the deploy writes there, or what it runs. Nothing was written. ` +
    `Fix it on the host (${fix}), or choose a target whose directories only the deploy user and root can write to; a sticky directory such as /tmp is fine as a parent when what is in it is the deploy user's.`
  )
}

/** lock: take `<target>/.deploy/lock`, waiting up to lock-timeout. */
export async function acquireLock(
  remote: Remote,
  layout: RemoteLayout,
  owner: LockOwner,
  timeoutSeconds: number,
  user: string
): Promise<void> {
  const result = await remote.run(acquireLockScript(layout, owner, timeoutSeconds), {
    phase: 'lock',
    timeoutSeconds: timeoutSeconds + ROUND_TRIP_SECONDS,
    echo: true,
    allowFailure: true
  })
  for (const dead of answersOf(result.stdout, 'broken')) {
    const left = answerOf(result.stdout, 'left')
    core.warning(
      `Broke the deploy lock of ${describeOwner(dead)}: its runner sent no heartbeat for ${HEARTBEAT_STALE_SECONDS} s and no host step of its is running (the runner died or froze). ` +
        `It left current -> ${left || '(none)'}; this deploy goes on from there.`,
      { title: 'Dead deploy lock broken' }
    )
  }
  if (result.code === EXIT.unsafeTarget) throw new Error(unsafeTargetMessage(result.stdout, user))
  if (result.code === EXIT.lockBusy) {
    const held = answerOf(result.stdout, 'owner') ?? ''
    throw new Error(
      `another deploy holds ${layout.lockDir}: ${describeOwner(held)}. Waited ${timeoutSeconds} s (lock-timeout). ` +
        `If no deploy is running, remove that directory on the host.`
    )
  }
  if (result.code !== 0) {
    throw new Error(
      `could not take ${layout.lockDir} (exit ${result.code}): ${result.stderr.trim()}`
    )
  }
  info(`Holding ${layout.lockDir}`)
}

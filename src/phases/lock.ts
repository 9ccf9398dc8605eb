import * as core from '@actions/core'
import { randomBytes } from 'node:crypto'
import { enterTargetScript, relativeToTarget, type RemoteLayout } from '../layout.js'
import type { Remote } from '../remote.js'
import { STEP_WAIT_SECONDS, waitForStepScript } from '../host-step.js'
import { sh, type ShellCode } from '../shell.js'

/** Exit code the lock script uses when lock-timeout ran out. */
const LOCK_BUSY = 75

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

/**
 * `mkdir` is atomic: whoever creates the directory holds the lock. The owner is written first,
 * beside it, and renamed in (a rename needs no space), so a full disk never leaves a lock without
 * an owner; a `mkdir` that fails while no lock exists is an error, not a wait. Waits on the host,
 * polling each second, while the SSH session that started it is still there.
 */
export function acquireLockScript(
  layout: RemoteLayout,
  owner: LockOwner,
  timeoutSeconds: number
): ShellCode {
  const here = relativeToTarget(layout)
  const ownerFile = `${here.lockDir}/owner`
  const pending = `${here.deployDir}/lock-owner.${owner.token}`
  return sh`${enterTargetScript(layout.target)}
mkdir -p -- ${here.deployDir} || exit 1
if ! printf '%s\n' ${JSON.stringify(owner)} 2>/dev/null > ${pending}; then
  rm -f -- ${pending}
  printf 'could not write %s: the disk is full, or the deploy user may not write there\n' ${`${layout.deployDir}/lock-owner.${owner.token}`} >&2
  exit 1
fi
waited=0
while ! made=$(mkdir -- ${here.lockDir} 2>&1); do
  if [ ! -d ${here.lockDir} ]; then rm -f -- ${pending}; printf '%s\n' "$made" >&2; exit 1; fi
  if [ "$((waited % 10))" = 0 ]; then printf 'waiting for the deploy lock (%s of %s s), held by: %s\n' "$waited" ${timeoutSeconds} "$(cat < ${ownerFile} 2>/dev/null)"; fi
  if [ "$waited" -ge ${timeoutSeconds} ]; then rm -f -- ${pending}; printf 'owner %s\n' "$(cat < ${ownerFile} 2>/dev/null)"; exit ${LOCK_BUSY}; fi
  # The session that ran this is gone (a cancelled job): stop waiting, or the lock is taken for nobody.
  if [ ! -d "/proc/$PPID" ]; then rm -f -- ${pending}; exit 1; fi
  sleep 1
  waited=$((waited + 1))
done
mv -f -- ${pending} ${ownerFile} || { rmdir -- ${here.lockDir}; rm -f -- ${pending}; exit 1; }`
}

/**
 * Removes the lock only if this run still owns it, and only after a restart step cut off from the
 * action (a lost connection, a cancelled job) has finished on the host.
 */
export function releaseLockScript(
  lock: Pick<HeldLock, 'lockDir' | 'token' | 'restartLog'>
): ShellCode {
  // From inside the lock: a path in a command line is what a user's `pkill -f PATH` matches.
  return sh`${waitForStepScript(lock.restartLog, STEP_WAIT_SECONDS)}
if cd -- ${lock.lockDir} 2>/dev/null && grep -qF -- ${lock.token} owner 2>/dev/null; then cd .. && rm -rf -- lock && echo released
elif [ -d ${lock.lockDir} ]; then printf 'other %s\n' "$(cat < owner 2>/dev/null)"
else echo gone; fi`
}

/** What a lock release did, in words, from its output (see releaseLockScript). */
export function releaseOutcome(lock: HeldLock, stdout: string): string {
  if (/^released$/m.test(stdout)) return `Released ${lock.lockDir}`
  const other = /^other (.*)$/m.exec(stdout)
  if (other)
    return `Left ${lock.lockDir} alone: it is held by another deploy now (${describeOwner(other[1])})`
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

/** lock: take `<target>/.deploy/lock`, waiting up to lock-timeout. */
export async function acquireLock(
  remote: Remote,
  layout: RemoteLayout,
  owner: LockOwner,
  timeoutSeconds: number
): Promise<void> {
  const result = await remote.run(acquireLockScript(layout, owner, timeoutSeconds), {
    phase: 'lock',
    timeoutSeconds: timeoutSeconds + 30,
    echo: true,
    allowFailure: true
  })
  if (result.code === LOCK_BUSY) {
    const held = /^owner (.*)$/m.exec(result.stdout)?.[1] ?? ''
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
  core.info(`Holding ${layout.lockDir}`)
}

/** A lock this run holds, as saved for the post step (which releases it if the job was cancelled). */
export interface HeldLock {
  host: string
  port: number
  username: string
  lockDir: string
  token: string
  /** The restart step's output: the lock is released only once no step is writing it. */
  restartLog: string
}

const held: HeldLock[] = []

/** Keeps the `locks` state current, so the post step knows what a cancelled run left behind. */
export function trackLock(lock: HeldLock, holding: boolean): void {
  const index = held.findIndex(entry => entry.token === lock.token && entry.host === lock.host)
  if (holding && index < 0) held.push(lock)
  if (!holding && index >= 0) held.splice(index, 1)
  core.saveState('locks', JSON.stringify(held))
}

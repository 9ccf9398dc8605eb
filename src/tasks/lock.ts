import * as core from '@actions/core'
import { randomBytes } from 'node:crypto'
import { type RemoteLayout } from '../remote/layout.js'
import type { Remote } from '../remote/remote.js'
import type { HeldLock } from '../model/post-state.js'
import { answerOf, answersOf, EXIT } from '../remote/protocol.js'
import { HEARTBEAT_STALE_SECONDS, ROUND_TRIP_SECONDS } from '../model/budgets.js'
import { info } from '../report/host-text.js'
import { acquireLockScript, type LockOwner, heartbeatScript } from '../commands/lock.js'

/** How often the runner tells the host it is alive while it holds the lock. */
export const HEARTBEAT_SECONDS = 2

export function lockOwner(sha: string, run: string, now = new Date()): LockOwner {
  return {
    run,
    sha,
    time: now.toISOString(),
    token: randomBytes(12).toString('hex')
  }
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

import * as core from '@actions/core'
import { hostLabel } from './host-address.js'
import { awaitStepScript, stepOutcome } from './host-step.js'
import { connect } from './phases/connect.js'
import { releaseLockScript, releaseOutcome, type HeldLock } from './phases/lock.js'
import type { RunningRestart } from './phases/restart.js'
import { getSettings, type Settings } from './settings.js'

/** Reads what a restart step cut off from the main step did on the host, waiting for it to end. */
async function reportRestart(settings: Settings, restart: RunningRestart): Promise<void> {
  const address = { host: restart.host, port: restart.port, username: restart.username }
  const label = hostLabel(address)
  const session = await connect(address, settings, 'post')
  try {
    const { stdout } = await session.remote.run(awaitStepScript(restart.outFile, 600), {
      phase: 'post',
      timeoutSeconds: 660
    })
    const outcome = stepOutcome(stdout)
    core.startGroup(`${label}: the restart the main step did not see finish`)
    for (const line of outcome.log) core.info(line)
    core.endGroup()
    core.warning(
      outcome.code === undefined
        ? `The deploy to ${label} was interrupted while the host restarted the service, and that step has not finished (${restart.outFile}).`
        : outcome.code === 0
          ? `The deploy to ${label} was interrupted during the restart; the host finished it: the new release was started but not verified.`
          : `The deploy to ${label} was interrupted during the restart; on the host it failed in ${outcome.phase}: ${outcome.log.slice(-5).join(' / ')}`,
      { title: 'Interrupted restart' }
    )
  } finally {
    session.close()
  }
}

/**
 * The post step: report any restart an interrupted run left running on a host, then release the
 * deploy locks it left (after that restart has finished).
 */
export async function runPost(): Promise<void> {
  try {
    const restarts = JSON.parse(core.getState('restarts') || '[]') as RunningRestart[]
    const locks = JSON.parse(core.getState('locks') || '[]') as HeldLock[]
    if (restarts.length === 0 && locks.length === 0) return
    const settings = getSettings()
    for (const restart of restarts) await reportRestart(settings, restart)
    for (const lock of locks) {
      const address = { host: lock.host, port: lock.port, username: lock.username }
      const session = await connect(address, settings, 'post')
      try {
        const { stdout } = await session.remote.run(releaseLockScript(lock), {
          phase: 'post',
          timeoutSeconds: 660
        })
        core.info(
          `${releaseOutcome(lock, stdout)} on ${hostLabel(address)}, left by an interrupted deploy`
        )
      } finally {
        session.close()
      }
    }
  } catch (error) {
    core.warning(
      `The post step could not finish: ${error instanceof Error ? error.message : String(error)}`
    )
  }
}

import * as core from '@actions/core'
import { hostLabel } from './host-address.js'
import { connect } from './phases/connect.js'
import { releaseLockScript, type HeldLock } from './phases/lock.js'
import { getSettings } from './settings.js'

/** The post step: release any deploy lock a cancelled or crashed run left on a host. */
export async function runPost(): Promise<void> {
  try {
    const locks = JSON.parse(core.getState('locks') || '[]') as HeldLock[]
    if (locks.length === 0) return
    const settings = getSettings()
    for (const lock of locks) {
      const address = { host: lock.host, port: lock.port, username: lock.username }
      const session = await connect(address, settings, 'post')
      try {
        await session.remote.run(releaseLockScript(lock.lockDir, lock.token), {
          phase: 'post',
          timeoutSeconds: 30
        })
        core.info(
          `Released ${lock.lockDir} on ${hostLabel(address)}, left by an interrupted deploy`
        )
      } finally {
        session.close()
      }
    }
  } catch (error) {
    core.warning(
      `Could not release a deploy lock: ${error instanceof Error ? error.message : String(error)}`
    )
  }
}

import type { HostAddress } from '../inputs/host-address.js'
import type { Remote } from './remote.js'

/** An open SSH session to one host (tasks/connect.ts opens it): what every phase runs on. */
export interface HostSession {
  address: HostAddress
  /** The connection every phase runs on; `reconnect` replaces it once it is lost. */
  remote: Remote
  /** `target` with `~/` resolved against the remote home. */
  target: string
  startLog?: string
  hostKeyReason: string
  /**
   * systemd-logind stops the deploy user's processes when an SSH session ends (logind.sh): a
   * service started in the action's session must be seen answering after it ends (verify).
   */
  stopsAtLogout?: true
  close(): void
}

import * as core from '@actions/core'
import { hostLabel, type HostAddress } from '../inputs/host-address.js'
import { expandHome } from '../remote/layout.js'
import { Remote, RemoteCommandError } from '../remote/remote.js'
import { ConnectError, openSsh, type SshOptions } from '../remote/ssh.js'
import { startProxyCommand } from '../remote/proxy-command.js'
import { errorText } from '../model/phase.js'
import type { Settings } from '../inputs/settings.js'
import { info } from '../report/host-text.js'
import { answerOf, answersOf } from '../remote/protocol.js'
import type { HostSession } from '../remote/host-session.js'
import { toolCheckScript, REQUIRED_TOOLS } from '../commands/connect.js'

/**
 * The error for a host where the exec request could not start /bin/sh (EXEC_REQUEST: every
 * command runs under it, whatever the login shell), or undefined for any other failure.
 */
export function noShellError(label: string, error: unknown): Error | undefined {
  if (!(error instanceof RemoteCommandError) || (error.code !== 126 && error.code !== 127)) return
  if (!error.stderr.includes('/bin/sh')) return
  return new Error(
    `${label} could not start /bin/sh (${error.stderr.trim().split('\n')[0]}). The action runs every command on the host under /bin/sh, whatever the login shell is: make /bin/sh a POSIX shell there (dash, bash or busybox ash).`
  )
}

function sshOptions(settings: Settings): SshOptions {
  return {
    credentials: {
      privateKey: settings.privateKey,
      passphrase: settings.passphrase,
      password: settings.password
    },
    hostKeys: settings.hostKeys,
    connectTimeoutSeconds: settings.connectTimeoutSeconds
  }
}

/** Opens a channel to `address` through the jump host, when one is set. */
async function openThroughJump(address: HostAddress, settings: Settings) {
  const jump = settings.jumpHost as HostAddress
  const bastion = await openSsh(jump, sshOptions(settings))
  info(`Jump host ${hostLabel(jump)}: host key ${bastion.hostKeyReason}`)
  const sock = await new Promise<NonNullable<SshOptions['sock']>>((resolve, reject) =>
    bastion.client.forwardOut('127.0.0.1', 0, address.host, address.port, (error, channel) =>
      error
        ? reject(
            new Error(
              `jump host ${hostLabel(jump)} could not reach ${hostLabel(address)}: ${error.message}`
            )
          )
        : resolve(channel)
    )
  )
  try {
    const connection = await openSsh(address, { ...sshOptions(settings), sock })
    connection.client.on('close', () => bastion.client.end())
    return connection
  } catch (error) {
    bastion.client.end()
    throw error
  }
}

/** Opens a connection through `proxy-command`: the command's stdin/stdout carry it. */
async function openThroughProxy(address: HostAddress, settings: Settings) {
  const proxy = startProxyCommand(settings.proxyCommand as string, address)
  try {
    const connection = await Promise.race([
      openSsh(address, { ...sshOptions(settings), sock: proxy.sock }),
      proxy.exited
    ])
    connection.client.on('close', () => proxy.stop())
    return connection
  } catch (error) {
    // A proxy that exited is why the handshake broke: its own words say more than ssh2's.
    const exited = await Promise.race([
      proxy.exited.catch((exit: unknown) => exit),
      new Promise(resolve => setTimeout(resolve, 1000))
    ])
    proxy.stop()
    throw exited instanceof ConnectError ? exited : error
  }
}

/** Seconds before retry `attempt` (1, 2, …) of a connection: 1, 2, 4, … up to 8. */
export function connectBackoffSeconds(attempt: number): number {
  return Math.min(8, 2 ** (attempt - 1))
}

/**
 * One connection, retried up to connect-retries times with backoff when it failed before
 * authentication in a way that may pass (refused, timed out, reset: sshd's MaxStartups under a
 * scanner, a host coming up). An authentication failure or a host-key problem is never retried,
 * and no command is ever retried: nothing has run yet.
 */
async function openWithRetries(address: HostAddress, settings: Settings) {
  const open = () =>
    settings.jumpHost
      ? openThroughJump(address, settings)
      : settings.proxyCommand
        ? openThroughProxy(address, settings)
        : openSsh(address, sshOptions(settings))
  for (let attempt = 1; ; attempt++) {
    try {
      return await open()
    } catch (error) {
      const retryable = error instanceof ConnectError && error.retryable
      if (!retryable || attempt > settings.connectRetries) throw error
      const wait = connectBackoffSeconds(attempt)
      info(
        `Connecting to ${hostLabel(address)} failed (${errorText(error)}); retry ${attempt} of ${settings.connectRetries} in ${wait} s (connect-retries)`
      )
      await new Promise(resolve => setTimeout(resolve, wait * 1000))
    }
  }
}

/** connect: one verified SSH connection, then a check that the host has what the pipeline runs. */
export async function connect(
  address: HostAddress,
  settings: Settings,
  phase = 'connect'
): Promise<HostSession> {
  const label = hostLabel(address)
  const connection = await openWithRetries(address, settings)
  info(`Connected to ${address.username}@${label}; host key ${connection.hostKeyReason}`)
  if (!connection.hostKeyVerified) {
    core.warning(
      `The host key of ${label} was not verified. Pin it with known-hosts or host-fingerprint.`,
      {
        title: 'Host key not verified'
      }
    )
  }
  const remote = new Remote(connection.ssh, label)
  try {
    const { stdout } = await remote
      .run(toolCheckScript(), { phase, timeoutSeconds: settings.connectTimeoutSeconds })
      .catch((error: unknown) => {
        throw noShellError(label, error) ?? error
      })
    const missing = answersOf(stdout, 'missing')
    if (missing.length > 0) {
      throw new Error(
        `${label} lacks ${missing.join(', ')}, which the deploy needs. Install ` +
          missing.map(tool => `${tool} (${REQUIRED_TOOLS[tool]})`).join(', ') +
          ' on the host.'
      )
    }
    const home = answerOf(stdout, 'home') ?? ''
    const needsHome = [settings.target, settings.startLog].some(path => path?.startsWith('~/'))
    if (needsHome && !home.startsWith('/')) {
      throw new Error(`target uses ~/ but $HOME on ${label} is '${home}'; use an absolute path`)
    }
    info(`Required tools present: ${Object.keys(REQUIRED_TOOLS).join(', ')}`)
    const stopsAtLogout = answerOf(stdout, 'logind')?.startsWith('kills ') || undefined
    // Said once per host and run; a reconnect finds the same.
    if (stopsAtLogout && phase === 'connect') {
      const user = address.username
      core.warning(
        `systemd-logind on ${label} stops ${user}'s processes when an SSH session ends (KillUserProcesses=yes, and ${user} has no lingering): a service started in the action's session stops when the action disconnects. The action checks it after verify over a new connection. Fix, as root on the host: loginctl enable-linger ${user}`,
        { title: 'Processes stop at logout' }
      )
    }
    const session: HostSession = {
      address,
      remote,
      target: expandHome(settings.target, home),
      startLog: settings.startLog && expandHome(settings.startLog, home),
      hostKeyReason: connection.hostKeyReason,
      stopsAtLogout,
      close: () => session.remote.close()
    }
    return session
  } catch (error) {
    remote.close()
    throw error
  }
}

/**
 * Gives `session` a new connection, the old one closed first: the SSH session it was is over (as
 * logind sees it too), and what it started is on its own.
 */
export async function renew(
  session: HostSession,
  settings: Settings,
  phase: string
): Promise<void> {
  session.remote.close()
  const fresh = await connect(session.address, settings, phase)
  session.remote = fresh.remote
}

/** Gives `session` a new connection when its own is lost (the host checked again, as in connect). */
export async function reconnect(
  session: HostSession,
  settings: Settings,
  phase: string
): Promise<void> {
  const lost = session.remote.lost
  if (!lost) return
  info(`The connection to ${session.remote.label} was lost (${lost}); reconnecting`)
  await renew(session, settings, phase)
}

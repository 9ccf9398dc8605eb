import { NodeSSH, type Config } from 'node-ssh'
import type { AuthenticationType, Client, ConnectConfig } from 'ssh2'
import { createConnection, type Socket } from 'node:net'
import type { Readable } from 'node:stream'
import { hostLabel, type HostAddress } from '../inputs/host-address.js'
import { checkHostKey, pinnedKeyAlgorithms, type HostKeyPolicy } from './host-key.js'
import type { PrivateKey } from '../inputs/private-key.js'

export interface SshCredentials {
  privateKey?: PrivateKey
  passphrase?: string
  password?: string
}

export interface SshOptions {
  credentials: SshCredentials
  hostKeys: HostKeyPolicy
  connectTimeoutSeconds: number
  /** An already-open stream to the host (a jump host's forwarded channel). */
  sock?: Readable
}

export interface SshConnection {
  /** The node-ssh connection: its execCommand runs every remote command. */
  ssh: NodeSSH
  /** Its ssh2 client, for what node-ssh has no verb for (port forwarding). */
  client: Client
  /** How the host key was accepted, for the log. */
  hostKeyReason: string
  /** False when accepted only because of insecure-skip-host-key-check. */
  hostKeyVerified: boolean
}

function authMethods(username: string, credentials: SshCredentials): ConnectConfig['authHandler'] {
  const methods: Record<string, unknown>[] = []
  if (credentials.privateKey) {
    methods.push({
      type: 'publickey',
      username,
      key: credentials.privateKey.text,
      passphrase: credentials.passphrase
    })
  }
  if (credentials.password) {
    const password = credentials.password
    methods.push({ type: 'password', username, password })
    methods.push({
      type: 'keyboard-interactive',
      username,
      prompt: (
        _name: string,
        _text: string,
        _lang: string,
        prompts: unknown[],
        finish: (answers: string[]) => void
      ) => finish(prompts.map(() => password))
    })
  }
  return methods as unknown as AuthenticationType[]
}

function describeCredentials(credentials: SshCredentials): string {
  const parts: string[] = []
  if (credentials.privateKey) {
    parts.push(
      `the private key (${credentials.privateKey.type} ${credentials.privateKey.publicFingerprint})`
    )
  }
  if (credentials.password) parts.push('the password')
  return parts.join(' and ')
}

/**
 * A connection that failed, in words; `retryable` when it failed before authentication in a way
 * that may pass a moment later (refused, timed out, reset or closed during the key exchange).
 */
export class ConnectError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean
  ) {
    super(message)
    this.name = 'ConnectError'
  }
}

/** Whether a connect error may pass on a second try: never authentication, a host key or DNS. */
function retryableError(error: Error & { level?: string; code?: string }): boolean {
  if (error.level === 'client-authentication') return false
  return (
    ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT'].includes(error.code ?? '') ||
    error.level === 'client-timeout' ||
    /timed out|No response from server|closed|reset/i.test(error.message)
  )
}

/** Turns ssh2/socket errors into messages that say what happened and what to do. */
export function explainConnectError(
  error: Error & { level?: string; code?: string },
  address: HostAddress,
  options: SshOptions
): string {
  const label = hostLabel(address)
  if (error.level === 'client-authentication') {
    return (
      `Authentication failed: ${label} rejected ${describeCredentials(options.credentials)} for user '${address.username}'. ` +
      `Check the username, and that the matching public key is in ~${address.username}/.ssh/authorized_keys on the host ` +
      `(ssh-keygen -y -f KEY prints it).`
    )
  }
  switch (error.code) {
    case 'ECONNREFUSED':
      return `Connection refused by ${label}: nothing accepts SSH there. Check host and port, and that sshd is running.`
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `Host name '${address.host}' could not be resolved. Check the host input.`
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `${label} is unreachable from the runner (${error.code}). Check the address, routing and firewall.`
    case 'ECONNRESET':
      return `${label} closed the connection during the SSH handshake (${error.message}); is it an SSH server, and does it allow this runner?`
  }
  if (error.level === 'client-timeout' || /timed out/i.test(error.message)) {
    return (
      `No SSH handshake with ${label} within ${options.connectTimeoutSeconds} s (connect-timeout). ` +
      `Check the address and port, and that a firewall lets the runner in.`
    )
  }
  return `SSH connection to ${label} failed: ${error.message}`
}

/** A TCP connection of our own, so connect errors keep their codes (ssh2 reports them vaguely). */
function tcpConnect(address: HostAddress, options: SshOptions): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: address.host, port: address.port })
    const timer = setTimeout(() => {
      socket.destroy()
      reject(
        new ConnectError(
          explainConnectError(
            Object.assign(new Error('timed out'), { level: 'client-timeout' }),
            address,
            options
          ),
          true
        )
      )
    }, options.connectTimeoutSeconds * 1000)
    socket.once('connect', () => {
      clearTimeout(timer)
      resolve(socket)
    })
    socket.once('error', error => {
      clearTimeout(timer)
      reject(new ConnectError(explainConnectError(error, address, options), retryableError(error)))
    })
  })
}

/** Opens one verified SSH connection; rejects with an explained error, never hangs. */
export async function openSsh(address: HostAddress, options: SshOptions): Promise<SshConnection> {
  const sock = options.sock ?? (await tcpConnect(address, options))
  return handshake(address, { ...options, sock })
}

function handshake(address: HostAddress, options: SshOptions): Promise<SshConnection> {
  const ssh = new NodeSSH()
  const timeoutMs = options.connectTimeoutSeconds * 1000
  let hostKeyProblem: string | undefined
  let hostKeyReason = ''
  let hostKeyVerified = false
  const preferred = pinnedKeyAlgorithms(options.hostKeys, address)
  const config = {
    host: address.host,
    port: address.port,
    username: address.username,
    sock: options.sock,
    readyTimeout: timeoutMs,
    keepaliveInterval: 15_000,
    keepaliveCountMax: 4,
    authHandler: authMethods(address.username, options.credentials),
    hostVerifier: (key: Buffer) => {
      const decision = checkHostKey(options.hostKeys, address, key)
      if (decision.accepted) {
        hostKeyReason = decision.reason
        hostKeyVerified = decision.verified
      } else hostKeyProblem = decision.message
      return decision.accepted
    },
    ...(preferred.length > 0
      ? { algorithms: { serverHostKey: { remove: preferred, prepend: preferred } } }
      : {})
  } as ConnectConfig as Config

  return new Promise((resolve, reject) => {
    let settled = false
    const fail = (message: string, retryable: boolean): void => {
      if (settled) return
      settled = true
      clearTimeout(deadline)
      ssh.connection?.end()
      ssh.connection?.destroy()
      reject(
        hostKeyProblem
          ? new ConnectError(hostKeyProblem, false)
          : new ConnectError(message, retryable)
      )
    }
    // ssh2's readyTimeout covers the handshake; this also bounds DNS and a stuck TCP connect.
    const deadline = setTimeout(
      () =>
        fail(
          explainConnectError(
            Object.assign(new Error('timed out'), { level: 'client-timeout' }),
            address,
            options
          ),
          true
        ),
      timeoutMs + 1000
    )
    ssh.connect(config).then(
      connected => {
        const client = connected.connection as Client
        if (settled) {
          client.end()
          return
        }
        settled = true
        clearTimeout(deadline)
        // node-ssh drops its error listener once ready; an error with none would crash the action.
        // Whoever uses the connection (Remote, a jump host's channel) reports the loss itself.
        client.on('error', () => undefined)
        resolve({ ssh: connected, client, hostKeyReason, hostKeyVerified })
      },
      (error: Error & { level?: string; code?: string }) =>
        // node-ssh reports a close before ready as "No response from server".
        fail(
          /No response from server/.test(error.message)
            ? `${hostLabel(address)} closed the connection before it was ready`
            : explainConnectError(error, address, options),
          retryableError(error)
        )
    )
  })
}

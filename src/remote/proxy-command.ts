import { spawn } from 'node:child_process'
import { Duplex } from 'node:stream'
import type { HostAddress } from '../inputs/host-address.js'
import { info } from '../report/host-text.js'
import { quote } from './shell.js'
import { ConnectError } from './ssh.js'

/**
 * `proxy-command` with OpenSSH's tokens expanded: %h the host, %p the port, %r the user, %% a
 * percent sign. Each value is quoted for the runner's shell, so a host name cannot become code.
 */
export function expandProxyCommand(command: string, address: HostAddress): string {
  return command.replace(/%([hpr%])/g, (_, token: string) =>
    token === 'h'
      ? quote(address.host)
      : token === 'p'
        ? String(address.port)
        : token === 'r'
          ? quote(address.username)
          : '%'
  )
}

/** A running proxy command: its stdin/stdout as the connection, and its end. */
export interface ProxyStream {
  sock: Duplex
  /** Rejects with a connect error naming the command and its last stderr line once it exits. */
  exited: Promise<never>
  stop(): void
}

/**
 * Starts `proxy-command` for `address` on the runner (under /bin/sh, as OpenSSH runs it): its
 * stdout and stdin are the SSH connection, its stderr goes to the log line by line as outside text.
 */
export function startProxyCommand(command: string, address: HostAddress): ProxyStream {
  const child = spawn('/bin/sh', ['-c', expandProxyCommand(command, address)], {
    stdio: ['pipe', 'pipe', 'pipe']
  })
  let lastLine = ''
  let pending = ''
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (chunk: string) => {
    const lines = (pending + chunk).split('\n')
    pending = lines.pop() ?? ''
    for (const line of lines.filter(Boolean)) {
      lastLine = line
      info(`proxy-command: ${line}`)
    }
  })
  const exited = new Promise<never>((_, reject) =>
    child.on('close', (code, signal) => {
      if (pending) lastLine = pending
      reject(
        new ConnectError(
          `proxy-command '${command}' exited ${signal ? `on ${signal}` : `with code ${code}`} before the connection to ${address.host}:${address.port} was authenticated` +
            (lastLine ? `; its last line: ${lastLine}` : '; it printed nothing on stderr'),
          true
        )
      )
    })
  )
  exited.catch(() => undefined)
  child.stdin.on('error', () => undefined)
  const sock = Duplex.from({ readable: child.stdout, writable: child.stdin })
  sock.on('error', () => undefined)
  return {
    sock,
    exited,
    stop: () => {
      if (child.exitCode === null) child.kill('SIGTERM')
    }
  }
}

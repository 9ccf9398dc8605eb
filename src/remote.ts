import * as core from '@actions/core'
import type { NodeSSH } from 'node-ssh'
import { StringDecoder } from 'node:string_decoder'
import { PassThrough, Readable } from 'node:stream'
import type { Client, ClientChannel } from 'ssh2'
import { ShellCode } from './shell.js'

export interface RemoteResult {
  code: number
  stdout: string
  stderr: string
}

export interface RunOptions {
  /** Phase name, used in every error. */
  phase: string
  timeoutSeconds: number
  /** Streamed to the command's stdin, which is then closed. Without it stdin is closed at once. */
  stdin?: Readable | Buffer
  /** Print output lines to the log as they arrive (inside the phase's group). */
  echo?: boolean
  /** Return non-zero exits instead of throwing. */
  allowFailure?: boolean
  /** Called with all stdout so far as it arrives, for commands that report before they finish. */
  onStdout?: (stdout: string) => void
}

/** A remote command that failed; the message names the phase, exit code and stderr tail. */
export class RemoteCommandError extends Error {
  constructor(
    readonly phase: string,
    readonly code: number | null,
    readonly stderr: string,
    detail: string
  ) {
    super(detail)
    this.name = 'RemoteCommandError'
  }
}

/** Keeps the last lines of a stream's text for error messages. */
export function lastLines(text: string, count: number): string {
  const lines = text.replace(/\s+$/, '').split('\n')
  return lines.slice(-count).join('\n')
}

/**
 * Set in the environment of every command the action runs on a host (see Remote.run) and unset
 * before any user command, so the action's own shells, this deploy's or a concurrent one's, are
 * recognised and never signalled.
 */
export const CONTROL_MARKER = 'VERIFIED_SSH_DEPLOY_CONTROL'

const MAX_CAPTURE = 32 * 1024 * 1024

/**
 * The whole text of every SSH exec request. The user's login shell parses it first, so it is one
 * line with one single-quoted word holding neither a backslash nor a single quote, which bash, dash, zsh,
 * fish, tcsh and busybox ash all read the same way; it only starts /bin/sh, marked as the action's
 * own. That sh evals the first line of stdin (scriptLoader), which reads the script from stdin. So no
 * command line on the host holds the script, and nothing a user's `pkill -f` matches in it (stop-
 * and start-command, env values, process-match) can match the action's own shells.
 */
export const EXEC_REQUEST = `exec /usr/bin/env ${CONTROL_MARKER}=1 /bin/sh -c 'IFS= read -r loader && eval "$loader"'`

/**
 * The first line on stdin: reads the next `lines` lines into one string and evals it. `read` takes
 * a pipe one byte at a time, so what follows the script on stdin is left for the script to read.
 */
export function scriptLoader(lines: number): string {
  return [
    `vsd_lines=${lines}; vsd_nl=$(printf '\\n.'); vsd_nl=\${vsd_nl%.}; vsd_script=`,
    'while [ "$vsd_lines" -gt 0 ] && IFS= read -r vsd_line; do vsd_script=$vsd_script$vsd_line$vsd_nl; vsd_lines=$((vsd_lines - 1)); done',
    'unset vsd_lines vsd_line vsd_nl loader; eval "$vsd_script"'
  ].join('; ')
}

/** What goes to the bootstrap's stdin: the loader line, the script's lines, then the script's own input. */
export function scriptInput(command: ShellCode, input?: Readable | Buffer): Readable {
  const script = command.text.endsWith('\n') ? command.text : `${command.text}\n`
  const lines = script.split('\n').length - 1
  const head = Buffer.from(`${scriptLoader(lines)}\n${script}`)
  const stream = new PassThrough()
  stream.write(head)
  if (input === undefined) stream.end()
  else if (Buffer.isBuffer(input)) stream.end(input)
  else {
    input.on('error', error => stream.destroy(error))
    input.pipe(stream)
  }
  return stream
}

/** Splits a byte stream into lines for the log. */
class LineEcho {
  private pending = ''
  constructor(private readonly print: (line: string) => void) {}
  push(chunk: string): void {
    const lines = (this.pending + chunk).split('\n')
    this.pending = lines.pop() ?? ''
    for (const line of lines) this.print(line)
  }
  flush(): void {
    if (this.pending) this.print(this.pending)
    this.pending = ''
  }
}

/** Runs commands on one host over its single SSH connection. */
export class Remote {
  private lostReason: string | undefined

  /** The ssh2 client under node-ssh, for port forwarding (the version check from the host). */
  readonly client: Client

  constructor(
    private readonly ssh: NodeSSH,
    readonly label: string
  ) {
    const client = ssh.connection as Client
    this.client = client
    client.on('error', error => {
      this.lostReason ??= error.message
    })
    client.on('close', () => {
      this.lostReason ??= 'the connection was closed'
    })
  }

  /** Why the connection is gone, or undefined while it is up. */
  get lost(): string | undefined {
    return this.lostReason
  }

  /**
   * Runs `command` under /bin/sh (whatever the user's login shell is), marked as the action's own
   * (CONTROL_MARKER) and sent on stdin (EXEC_REQUEST); throws on a non-zero or missing exit code
   * unless `allowFailure`.
   */
  run(command: ShellCode, options: RunOptions): Promise<RemoteResult> {
    const { phase } = options
    if (this.lostReason) {
      return Promise.reject(
        new RemoteCommandError(
          phase,
          null,
          '',
          `the SSH connection to ${this.label} was lost (${this.lostReason})`
        )
      )
    }
    core.debug(`[${this.label}] ${phase}: ${command.text}`)
    return new Promise((resolve, reject) => {
      let stdout = ''
      let stderr = ''
      let channel: ClientChannel | undefined
      let finished = false
      const echoOut = new LineEcho(line => core.info(line))
      const echoErr = new LineEcho(line => core.info(line))
      const finish = (error: Error | undefined, result?: RemoteResult): void => {
        if (finished) return
        finished = true
        clearTimeout(timer)
        echoOut.flush()
        echoErr.flush()
        if (error) reject(error)
        else resolve(result as RemoteResult)
      }
      const timer = setTimeout(() => {
        channel?.signal('KILL')
        channel?.close()
        finish(
          new RemoteCommandError(
            phase,
            null,
            stderr,
            `timed out after ${options.timeoutSeconds} s on ${this.label}` +
              (stderr.trim() ? `; last stderr:\n${lastLines(stderr, 20)}` : '')
          )
        )
      }, options.timeoutSeconds * 1000)

      // Decoded here, not by node-ssh: a character split across two chunks must stay whole.
      const outDecoder = new StringDecoder('utf8')
      const errDecoder = new StringDecoder('utf8')
      const stdin = scriptInput(command, options.stdin)
      stdin.on('error', streamError =>
        finish(
          new RemoteCommandError(
            phase,
            null,
            stderr,
            `sending data to ${this.label} failed: ${streamError.message}`
          )
        )
      )
      this.ssh
        .execCommand(EXEC_REQUEST, {
          stdin,
          noTrim: true,
          onChannel: opened => (channel = opened),
          onStdout: chunk => {
            const text = outDecoder.write(chunk)
            if (stdout.length < MAX_CAPTURE) stdout += text
            if (options.echo) echoOut.push(text)
            options.onStdout?.(stdout)
          },
          onStderr: chunk => {
            const text = errDecoder.write(chunk)
            if (stderr.length < MAX_CAPTURE) stderr += text
            else stderr = stderr.slice(-MAX_CAPTURE / 2) + text
            if (options.echo) echoErr.push(text)
          }
        })
        .then(
          ({ code }) => {
            if (typeof code !== 'number') {
              const why = this.lostReason
                ? `the SSH connection was lost (${this.lostReason})`
                : 'no exit status was returned'
              finish(
                new RemoteCommandError(
                  phase,
                  null,
                  stderr,
                  `command on ${this.label} ended without an exit code: ${why}`
                )
              )
              return
            }
            if (code !== 0 && !options.allowFailure) {
              finish(
                new RemoteCommandError(
                  phase,
                  code,
                  stderr,
                  `command on ${this.label} exited with code ${code}` +
                    (stderr.trim() ? `; last stderr:\n${lastLines(stderr, 20)}` : '')
                )
              )
              return
            }
            finish(undefined, { code, stdout, stderr })
          },
          (error: Error) =>
            finish(
              new RemoteCommandError(
                phase,
                null,
                '',
                this.lostReason
                  ? `the SSH connection to ${this.label} was lost (${this.lostReason})`
                  : `could not start a command on ${this.label}: ${error.message}`
              )
            )
        )
    })
  }

  close(): void {
    this.ssh.dispose()
  }
}

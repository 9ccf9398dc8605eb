import * as core from '@actions/core'
import type { NodeSSH } from 'node-ssh'
import { StringDecoder } from 'node:string_decoder'
import { Readable } from 'node:stream'
import type { Client, ClientChannel } from 'ssh2'
import SESSION_SCRIPT from '../host/remote/session.sh'
import { hostLine, info } from '../report/host-text.js'
import { findMarker, newStepKey } from './protocol.js'
import { withInputs, type ShellCode } from './shell.js'
import { COMMAND_SECONDS } from '../model/budgets.js'

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

/** Bytes of a command's stdin per data frame at most; more waits for the frame's ack. */
const DATA_FRAME = 4 * 1024 * 1024

/**
 * One stream of the action's shell (stdout or stderr), split into lines by the one marker reader
 * (findMarker, protocol.ts): text goes to `text` (a line with its newline; text a marker ran into,
 * without one), markers of the shell's key to `marker`. Decoded here, not by node-ssh: a character
 * split across two chunks must stay whole.
 */
class MarkedStream {
  private pending = ''
  private readonly decoder = new StringDecoder('utf8')
  constructor(
    private readonly key: string,
    private readonly text: (text: string) => void,
    private readonly marker: (kind: string, rest: string) => void
  ) {}
  push(chunk: Buffer): void {
    const lines = (this.pending + this.decoder.write(chunk)).split('\n')
    this.pending = lines.pop() ?? ''
    for (const line of lines) {
      const found = findMarker(line, this.key)
      if (!found) this.text(`${line}\n`)
      else {
        if (found.before) this.text(found.before)
        this.marker(found.kind, found.rest)
      }
    }
    // A line without its newline yet stays pending, unless it is far too long to be a marker's.
    if (this.pending.length > MAX_CAPTURE) {
      this.text(this.pending)
      this.pending = ''
    }
  }
  /** What is left when the stream ends. */
  flush(): string {
    const rest = this.pending + this.decoder.end()
    this.pending = ''
    return rest
  }
}

/** Splits text into lines for the log, as it arrives. */
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

/** Starts an exec request on the connection: ssh2's `Client.exec` (a local process in unit tests). */
export type ExecRequest = (
  command: string,
  callback: (error: Error | undefined, channel: ClientChannel) => void
) => void

/** A command of the action's shell that reports back (every one but the heartbeat's beats). */
interface Job {
  id: number
  stdout: string
  stderr: string
  code?: number
  stderrDone: boolean
  options: RunOptions
  echoOut: LineEcho
  echoErr: LineEcho
  finish(error: Error | undefined, result?: RemoteResult): void
}

/** What the login shell printed before the action's shell started: its start-up files' output. */
export interface LoginNoise {
  stdout: string
  stderr: string
}

/**
 * The action's one shell on a host (src/host/remote/session.sh): one exec request per connection, so the
 * user's login shell and its start-up files run once, and every command is a job sent to it as a
 * frame on its stdin. Its output is told from the login shell's by its key, and each job's from the
 * next one's by its end markers, wherever the text around them puts them (protocol.ts).
 */
export class HostShell {
  private readonly key = newStepKey()
  private nextId = 1
  private job: Job | undefined
  /** The turn of the next command that reports back: one at a time, in order. */
  private turn: Promise<unknown> = Promise.resolve()
  /** Frames are sent one at a time, each after the last one's ack. */
  private sending: Promise<unknown> = Promise.resolve()
  private readonly acks: Array<{ resolve: () => void; reject: (error: Error) => void }> = []
  private readonly noise: LoginNoise = { stdout: '', stderr: '' }
  private ready = { stdout: false, stderr: false }
  private readonly out: MarkedStream
  private readonly err: MarkedStream
  private exitCode: number | undefined
  /** Why the shell is gone, once it is. */
  ended: string | undefined
  private opened: { resolve: (noise: LoginNoise) => void; reject: (error: Error) => void } = {
    resolve: () => undefined,
    reject: () => undefined
  }

  private constructor(
    private readonly channel: ClientChannel,
    private readonly label: string,
    private readonly lost: () => string | undefined
  ) {
    this.out = new MarkedStream(
      this.key,
      text => this.text('stdout', text),
      (kind, rest) => this.marker('stdout', kind, rest)
    )
    this.err = new MarkedStream(
      this.key,
      text => this.text('stderr', text),
      (kind, rest) => this.marker('stderr', kind, rest)
    )
    channel.on('data', (chunk: Buffer) => this.out.push(chunk))
    channel.stderr.on('data', (chunk: Buffer) => this.err.push(chunk))
    channel.on('exit', (code: number | null) => (this.exitCode = code ?? undefined))
    channel.on('close', () => this.end())
  }

  /**
   * Starts the shell on `client` (EXEC_REQUEST, then the session script on stdin) and resolves, with
   * what the login shell printed, once it reads frames; rejects after `timeoutSeconds`.
   */
  static open(
    exec: ExecRequest,
    label: string,
    lost: () => string | undefined,
    timeoutSeconds: number
  ): Promise<{ shell: HostShell; noise: LoginNoise }> {
    return new Promise((resolve, reject) => {
      exec(EXEC_REQUEST, (error, channel) => {
        if (error) {
          reject(
            new RemoteCommandError(
              'connect',
              null,
              '',
              `could not start a command on ${label}: ${error.message}`
            )
          )
          return
        }
        const shell = new HostShell(channel, label, lost)
        const timer = setTimeout(() => {
          shell.kill()
          reject(
            new RemoteCommandError(
              'connect',
              null,
              shell.noise.stderr,
              `the login shell on ${label} did not start the action's shell within ${timeoutSeconds} s. ` +
                `A start-up file of the deploy user's shell (.bashrc, .profile, .zshenv, config.fish, .cshrc) that waits for input or runs long holds it up; it printed: ${loginNoiseText(shell.noise) || '(nothing)'}`
            )
          )
        }, timeoutSeconds * 1000)
        shell.opened = {
          resolve: noise => {
            clearTimeout(timer)
            resolve({ shell, noise })
          },
          reject: failure => {
            clearTimeout(timer)
            reject(failure)
          }
        }
        const script = `${withInputs(SESSION_SCRIPT, { vsd_key: shell.key }).text}\n`
        channel.write(`${scriptLoader(script.split('\n').length - 1)}\n${script}`)
      })
    })
  }

  private text(stream: 'stdout' | 'stderr', text: string): void {
    if (!this.ready[stream]) {
      if (this.noise[stream].length < MAX_CAPTURE) this.noise[stream] += text
      return
    }
    const job = this.job
    if (!job) return // a job's detached process writing after its end: nobody's output
    if (stream === 'stdout') {
      if (job.stdout.length < MAX_CAPTURE) job.stdout += text
      if (job.options.echo) job.echoOut.push(text)
      job.options.onStdout?.(job.stdout)
    } else {
      if (job.stderr.length < MAX_CAPTURE) job.stderr += text
      else job.stderr = job.stderr.slice(-MAX_CAPTURE / 2) + text
      if (job.options.echo) job.echoErr.push(text)
    }
  }

  private marker(stream: 'stdout' | 'stderr', kind: string, rest: string): void {
    const job = this.job
    if (kind === 'ready') {
      this.ready[stream] = true
      if (this.ready.stdout && this.ready.stderr) this.opened.resolve(this.noise)
    } else if (kind === 'ack' && stream === 'stdout') {
      this.acks.shift()?.resolve()
    } else if (kind === 'done' && job && rest.split(' ')[0] === String(job.id)) {
      if (stream === 'stdout') job.code = Number(rest.split(' ')[1])
      else job.stderrDone = true
      if (job.code !== undefined && job.stderrDone) this.settle(job)
    } else if (kind === 'broken') {
      this.kill()
    }
  }

  private settle(job: Job): void {
    const code = job.code as number
    if (code !== 0 && !job.options.allowFailure) {
      job.finish(
        new RemoteCommandError(
          job.options.phase,
          code,
          job.stderr,
          `command on ${this.label} exited with code ${code}` +
            (job.stderr.trim() ? `; last stderr:\n${lastLines(job.stderr, 20)}` : '')
        )
      )
    } else job.finish(undefined, { code, stdout: job.stdout, stderr: job.stderr })
  }

  /** The shell's channel closed: every command waiting on it fails. */
  private end(): void {
    if (this.ended) return
    const lost = this.lost()
    this.ended = lost
      ? `the SSH connection was lost (${lost})`
      : `the action's shell on the host ended${this.exitCode !== undefined ? ` with code ${this.exitCode}` : ''}`
    const rest = this.err.flush()
    if (!this.ready.stderr) this.noise.stderr += rest
    const failure = new RemoteCommandError(
      this.job?.options.phase ?? 'connect',
      this.ready.stdout ? null : (this.exitCode ?? null),
      this.ready.stdout ? (this.job?.stderr ?? '') : this.noise.stderr,
      this.ready.stdout
        ? `command on ${this.label} ended without an exit code: ${this.ended}`
        : lost
          ? `the SSH connection to ${this.label} was lost (${lost})`
          : `the login shell on ${this.label} exited${this.exitCode !== undefined ? ` with code ${this.exitCode}` : ''} before the action's shell started: ${loginNoiseText(this.noise) || '(it printed nothing)'}`
    )
    this.opened.reject(failure)
    this.job?.finish(failure)
    for (const ack of this.acks.splice(0)) ack.reject(failure)
  }

  /**
   * Ends the shell at once (a command that timed out); the next command gets a new one. It counts
   * as ended now: a job it started may hold the channel open a while yet.
   */
  kill(): void {
    this.channel.signal('KILL')
    this.channel.close()
    this.end()
  }

  close(): void {
    this.channel.end()
  }

  /** Sends one frame and waits for its ack; frames go one at a time. */
  private send(header: string, body?: Buffer): Promise<void> {
    const sent = this.sending.then(
      () =>
        new Promise<void>((resolve, reject) => {
          if (this.ended) {
            reject(new Error(this.ended))
            return
          }
          this.acks.push({ resolve, reject })
          this.channel.write(
            body ? Buffer.concat([Buffer.from(`${header}\n`), body]) : `${header}\n`
          )
        })
    )
    this.sending = sent.catch(() => undefined)
    return sent
  }

  /** Runs a command that reports nothing back, beside whatever runs (the lock's heartbeat). */
  runQuiet(command: ShellCode): Promise<void> {
    const { lines, script } = frameScript(command)
    return this.send(`run ${this.nextId++} ${lines} quiet`, script)
  }

  /** Runs `command` as the shell's next job once the one before has ended (see Remote.run). */
  run(command: ShellCode, options: RunOptions): Promise<RemoteResult> {
    const result = this.turn.then(() => this.runNow(command, options))
    this.turn = result.catch(() => undefined)
    return result
  }

  private runNow(command: ShellCode, options: RunOptions): Promise<RemoteResult> {
    const { phase } = options
    return new Promise((resolve, reject) => {
      if (this.ended) {
        reject(
          new RemoteCommandError(
            phase,
            null,
            '',
            `the SSH connection to ${this.label} was lost (${this.ended})`
          )
        )
        return
      }
      let finished = false
      const job: Job = {
        id: this.nextId++,
        stdout: '',
        stderr: '',
        stderrDone: false,
        options,
        echoOut: new LineEcho(line => info(line)),
        echoErr: new LineEcho(line => info(line)),
        finish: (error, result) => {
          if (finished) return
          finished = true
          clearTimeout(timer)
          if (this.job === job) this.job = undefined
          job.echoOut.flush()
          job.echoErr.flush()
          if (error) reject(error)
          else resolve(result as RemoteResult)
        }
      }
      const timer = setTimeout(() => {
        job.finish(
          new RemoteCommandError(
            phase,
            null,
            job.stderr,
            `timed out after ${options.timeoutSeconds} s on ${this.label}` +
              (job.stderr.trim() ? `; last stderr:\n${lastLines(job.stderr, 20)}` : '')
          )
        )
        this.kill()
      }, options.timeoutSeconds * 1000)
      this.job = job
      const { lines, script } = frameScript(command)
      const input = options.stdin
      this.send(`run ${job.id} ${lines} ${input === undefined ? 'none' : 'in'}`, script)
        .then(() => (input === undefined ? undefined : this.feed(job.id, input)))
        .catch((error: Error) =>
          job.finish(
            new RemoteCommandError(
              phase,
              null,
              job.stderr,
              `sending data to ${this.label} failed: ${error.message}`
            )
          )
        )
    })
  }

  /** Sends `input` as job `id`'s stdin, in data frames as it comes, then its end. */
  private async feed(id: number, input: Readable | Buffer): Promise<void> {
    const stream = Buffer.isBuffer(input) ? Readable.from([input]) : input
    const queued: Buffer[] = []
    let size = 0
    let done = false
    let failed: Error | undefined
    let wake: () => void = () => undefined
    stream.on('data', (chunk: Buffer | string) => {
      const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk)
      queued.push(buffer)
      size += buffer.length
      if (size >= 2 * DATA_FRAME) stream.pause()
      wake()
    })
    stream.on('end', () => ((done = true), wake()))
    stream.on('error', error => ((failed = error), wake()))
    try {
      for (;;) {
        if (queued.length === 0 && !done && !failed)
          await new Promise<void>(resolve => (wake = resolve))
        if (failed) throw failed
        if (queued.length === 0) {
          if (done) break
          continue
        }
        const all = Buffer.concat(queued.splice(0))
        const frame = all.subarray(0, DATA_FRAME)
        if (all.length > frame.length) queued.push(all.subarray(frame.length))
        size = all.length - frame.length
        stream.resume()
        await this.send(`data ${id} ${frame.length}`, frame)
      }
    } finally {
      await this.send(`eof ${id}`).catch(() => undefined)
    }
  }
}

/** A script as a run frame carries it: its lines, each ending in a newline. */
function frameScript(command: ShellCode): { lines: number; script: Buffer } {
  const text = command.text.endsWith('\n') ? command.text : `${command.text}\n`
  return { lines: text.split('\n').length - 1, script: Buffer.from(text) }
}

/** What the login shell printed, in one line for a message (made safe for the log). */
function loginNoiseText(noise: LoginNoise): string {
  return hostLine(
    [noise.stdout, noise.stderr]
      .map(text => text.trim())
      .filter(Boolean)
      .join(' / ')
  ).slice(0, 500)
}

/** Login noise already shown, per host: shown once, not at every reconnect. */
const shownNoise = new Set<string>()

/** Runs commands on one host over its single SSH connection, through one shell (HostShell). */
export class Remote {
  private lostReason: string | undefined
  private shell: Promise<HostShell> | undefined
  /** Shells started on this connection: each one is a login (its start-up files run once each). */
  logins = 0

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

  /** The shell, started on first use and again after one ended (a command that timed out). */
  private async shellFor(timeoutSeconds: number): Promise<HostShell> {
    const current = this.shell && (await this.shell.catch(() => undefined))
    if (current && !current.ended) return current
    const exec: ExecRequest = (command, callback) =>
      this.client.exec(command, (error, channel) => callback(error ?? undefined, channel))
    const opening = HostShell.open(exec, this.label, () => this.lostReason, timeoutSeconds).then(
      ({ shell, noise }) => {
        this.logins++
        this.showNoise(noise)
        return shell
      }
    )
    this.shell = opening
    return opening
  }

  /** The login shell's start-up output, once per host: labelled, and as data (hostLine). */
  private showNoise(noise: LoginNoise): void {
    const text = [noise.stdout, noise.stderr]
      .filter(part => part.trim())
      .map(part => part.replace(/\n$/, ''))
      .join('\n')
    const seen = `${this.label}\n${text}`
    if (!text.trim() || shownNoise.has(seen)) return
    shownNoise.add(seen)
    info(
      `The login shell on ${this.label} printed this before the action's shell started (the deploy user's start-up files; not the action's output, shown once):`
    )
    for (const line of text.split('\n')) info(`  ${line}`)
  }

  /**
   * Runs `command` under /bin/sh (whatever the user's login shell is) as the next job of the
   * host's one shell, marked as the action's own (CONTROL_MARKER); throws on a non-zero or missing
   * exit code unless `allowFailure`. Commands run one at a time, in the order they are asked for.
   */
  async run(command: ShellCode, options: RunOptions): Promise<RemoteResult> {
    const { phase } = options
    if (this.lostReason) {
      throw new RemoteCommandError(
        phase,
        null,
        '',
        `the SSH connection to ${this.label} was lost (${this.lostReason})`
      )
    }
    // Not the script: it holds env values (secrets among them) and user commands.
    core.debug(`[${this.label}] ${phase}: a script of ${command.text.split('\n').length} lines`)
    const shell = await this.shellFor(options.timeoutSeconds).catch((error: unknown) => {
      if (error instanceof RemoteCommandError)
        throw new RemoteCommandError(phase, error.code, error.stderr, error.message)
      throw error
    })
    return shell.run(command, options)
  }

  /** Runs `command` beside the others, reporting nothing back (the lock's heartbeat beats). */
  async runQuiet(command: ShellCode): Promise<void> {
    if (this.lostReason) return
    const shell = await this.shellFor(COMMAND_SECONDS.quick)
    await shell.runQuiet(command)
  }

  close(): void {
    void this.shell?.then(shell => shell.close()).catch(() => undefined)
    this.ssh.dispose()
  }
}

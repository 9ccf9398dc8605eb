import * as core from '@actions/core'
import {
  errorText,
  PhaseError,
  phaseInFlight,
  type PhaseName,
  type PhaseTiming
} from '../model/phase.js'
import { lastLines, type Remote } from './remote.js'
import { parentOf } from './layout.js'
import {
  newStepKey,
  parseMarker,
  STEP_KEY,
  stepKeyOf,
  stepKeyScript,
  stepLine
} from './protocol.js'
import { info } from '../report/host-text.js'
import { COMMAND_SECONDS, STEP_WAIT_SECONDS } from '../model/budgets.js'
import { hostLibrary } from './host-library.js'
import { environmentScript, joinCode, sh, ShellCode, withInputs } from './shell.js'
import FOLLOW_SCRIPT from '../host/remote/follow.sh'
import AWAIT_STEP_SCRIPT from '../host/remote/await-step.sh'

/**
 * Several phases run on the host as one detached command, so no network round trip falls between
 * them and a dropped connection or a cancelled job cannot stop it halfway. Its output goes to a
 * file, which the action follows over SSH (and the post step can re-read). The file's first line
 * is `@@step KEY`, written by the command that starts the step, before it does; the step's markers
 * then carry KEY (protocol.ts), so nothing a user's command prints can pass for one:
 *
 * - `@@KEY pid PID` — the step's process, first of the step's own lines
 * - `@@KEY phase NAME UPTIME` — a phase begins (UPTIME from /proc/uptime, for its duration)
 * - `@@KEY error TEXT` — part of the failing phase's message; `@@KEY data NAME VALUE` — for the action
 * - `@@KEY exit CODE UPTIME` — the step ended (written by its exit trap)
 * - `@@KEY died STATUS` — the step ended without its exit line: something killed it (written by
 *   the command that follows it, or `-` by one that found it gone)
 *
 * Anything else is the phase's log.
 */
export interface HostStepPhase {
  phase: PhaseName
  body: ShellCode
}

/** A host step's script and the key its markers carry. */
export interface HostStep {
  key: string
  script: ShellCode
}

/** The detached step: each phase's body after its marker; the first non-zero exit ends it. */
export function hostStepScript(
  phases: HostStepPhase[],
  prelude: ShellCode,
  key = newStepKey()
): HostStep {
  const script = joinCode([
    stepKeyScript(key),
    hostLibrary(),
    prelude,
    sh`trap 'printf "@@%s exit %s %s\n" "$step_key" "$?" "$(uptime_now)"' EXIT
printf '@@%s pid %s\n' ${STEP_KEY} "$$"`,
    ...phases.map(
      ({ phase, body }) => sh`printf '@@%s phase %s %s\n' ${STEP_KEY} ${phase} "$(uptime_now)"
${body}`
    )
  ])
  return { key, script }
}

/** Room set aside in the step's output file when it starts, so a disk that fills during the step cannot cut it. */
const OUTPUT_RESERVE = 262144

/**
 * Starts `step` detached and prints its output file as it grows until the step has ended, exiting
 * with the step's code (follow.sh). If this command is cut off, the step goes on. After the host
 * library.
 */
export function followScript(outFile: string, step: HostStep): ShellCode {
  return withInputs(FOLLOW_SCRIPT, {
    follow_out: outFile,
    follow_dir: parentOf(outFile),
    follow_name: outFile.slice(outFile.lastIndexOf('/') + 1),
    follow_reserve: OUTPUT_RESERVE,
    follow_key: step.key,
    follow_line: stepLine(step.key),
    follow_wait: STEP_WAIT_SECONDS,
    follow_step: environmentScript(step.script.text)
  })
}

/** What one phase of a host step printed. */
export interface PhaseOutput {
  lines: string[]
  errors: string[]
  data: Record<string, string>
}

/**
 * A host step whose outcome is not known: the action lost its output before the step ended, or
 * read its output without the line that says how it ended. What serves is then no known state, so
 * a deploy rolls back (rollsBack) as after a step that was killed.
 */
export class HostStepUnknown extends PhaseError {}

export interface HostStepResult {
  code: number
  /**
   * Set when the output was read to its end without a line saying how the step ended (the step
   * is not running any more): what was read, in words.
   */
  unread?: string
  /** Set when the step ended without its exit line: something on the host killed it. */
  died?: { pid?: number; status?: number }
  /** The phase that was running when the step ended (the failing one when code is not 0). */
  lastPhase: PhaseName
  outputs: Map<PhaseName, PhaseOutput>
}

export interface HostStepOptions {
  label: string
  remote: Remote
  outFile: string
  timeoutSeconds: number
  /** Record each phase's time here and show it as its own log group (not inside another group). */
  timings?: PhaseTiming[]
  /** Called once the step is running on the host, e.g. to tell the post step where its output is. */
  onStarted?: () => void
  /**
   * A working connection after the command following the step was cut off (the same one if it is
   * still up): the step's output is then read again from `outFile`, once the step has ended.
   */
  reattach: () => Promise<Remote>
}

/**
 * Reads a host step's output line by line: which phase is running, each phase's lines, errors and
 * data, and the exit line. `onPhase` and `onLine` let a caller show the output as it comes.
 */
export class HostStepReader {
  readonly outputs = new Map<PhaseName, PhaseOutput>()
  current: { phase: PhaseName; uptime: number } | undefined
  exit: { code: number; uptime?: number } | undefined
  /** The step ended without its exit line (killed); its wait status, when the follower saw it. */
  died: { status?: number } | undefined
  /** The step's process on the host. */
  pid: number | undefined
  /** The key of the step's markers: known to the runner that started it, else read from its `@@step` line. */
  private key: string | undefined
  /** Whether the `@@step` line has been read. */
  private named = false
  private pending = ''
  private handled = 0

  constructor(
    private readonly on: {
      phase?: (phase: PhaseName, uptime: number) => void
      line?: (text: string) => void
    } = {},
    key?: string
  ) {
    this.key = key
  }

  private handle(line: string): void {
    // The first `@@step KEY` line names the key (unless the reader knows it); text before it is log.
    const named = stepKeyOf(line)
    if (named && (!this.key || (named === this.key && !this.named))) {
      this.key = named
      this.named = true
      const before = line.slice(0, line.lastIndexOf('@@step '))
      if (before) this.text(before)
      return
    }
    const marker = parseMarker(line, this.key)
    if (!marker) return this.text(line)
    // Text a command printed without a final newline runs into the next marker: it is a line too.
    if (marker.before) this.text(marker.before)
    if (marker.kind === 'error') return this.text(marker.rest, true)
    const { kind, rest } = marker
    const output = this.current && this.outputs.get(this.current.phase)
    if (kind === 'phase') {
      const [phase, uptime] = rest.split(' ')
      this.on.phase?.(phase as PhaseName, Number(uptime))
      this.current = { phase: phase as PhaseName, uptime: Number(uptime) }
      this.outputs.set(this.current.phase, { lines: [], errors: [], data: {} })
    } else if (kind === 'exit') {
      // Without its uptime (`-`) when the follower wrote it for a step that could not.
      const [code, uptime] = rest.split(' ')
      this.exit = {
        code: Number(code),
        uptime: /^[\d.]+$/.test(uptime) ? Number(uptime) : undefined
      }
    } else if (kind === 'died') {
      this.died = { status: /^\d+$/.test(rest) ? Number(rest) : undefined }
    } else if (kind === 'pid') {
      this.pid = Number(rest)
    } else if (kind === 'data') {
      const [name, ...value] = rest.split(' ')
      if (output) output.data[name] = value.join(' ')
    }
  }

  /** A line of the running phase's log (or its error text). */
  private text(line: string, error = false): void {
    const output = this.current && this.outputs.get(this.current.phase)
    if (output) (error ? output.errors : output.lines).push(line)
    this.on.line?.(line)
  }

  /** Takes all output so far (only the part not seen before is read). */
  consume(output: string): this {
    this.pending += output.slice(this.handled)
    this.handled = output.length
    const lines = this.pending.split('\n')
    this.pending = lines.pop() ?? ''
    lines.forEach(line => this.handle(line))
    return this
  }

  /** Reads a last line without a newline. */
  end(): this {
    if (this.pending) this.handle(this.pending)
    this.pending = ''
    return this
  }

  /** The phase running when the output ended (the failing one when the code is not 0). */
  lastPhase(fallback: PhaseName): PhaseName {
    return this.current?.phase ?? fallback
  }

  /** Every phase's lines and errors in order, for a report. */
  log(): string[] {
    return [...this.outputs.values()].flatMap(output => [...output.lines, ...output.errors])
  }
}

/** Runs the phases as one host step, streaming each phase's lines to the log as they come. */
export async function runHostStep(
  phases: HostStepPhase[],
  prelude: ShellCode,
  options: HostStepOptions
): Promise<HostStepResult> {
  const { label, remote, outFile, timings } = options
  let wall = Date.now()
  // Each phase begins where the one before ended: the host's clock says how long each took, also
  // when its output arrives all at once after a reconnect.
  let phaseStart = wall
  const close = (uptime: number | undefined, ok = true): void => {
    const current = reader.current
    if (!current || !timings) return
    const seconds = Math.max(
      0,
      uptime !== undefined && current.uptime > 0
        ? uptime - current.uptime
        : (Date.now() - wall) / 1000
    )
    timings.push({ phase: current.phase, startedAt: phaseStart, seconds, ok })
    phaseStart += seconds * 1000
    core.endGroup()
  }
  const step = hostStepScript(phases, prelude)
  const newReader = (): HostStepReader =>
    new HostStepReader(
      {
        phase: (phase, uptime) => {
          close(uptime)
          wall = Date.now()
          if (timings) {
            phaseInFlight(label, phase)
            core.startGroup(`${label}: ${phase}`)
          } else info(`-- ${phase}`)
        },
        line: text => info(text)
      },
      step.key
    )
  let reader = newReader()
  options.onStarted?.()
  const first = phases[0].phase
  const stepGone = (detail: string): PhaseError => {
    close(undefined, false)
    if (timings) phaseInFlight(label, undefined)
    return new HostStepUnknown(
      label,
      reader.lastPhase(first),
      `${detail}; its output is in ${outFile}`
    )
  }
  let stderr = ''
  const follow = (on: Remote) =>
    on.run(joinCode([hostLibrary(), followScript(outFile, step)]), {
      phase: first,
      timeoutSeconds: options.timeoutSeconds,
      allowFailure: true,
      onStdout: stdout => reader.consume(stdout)
    })
  let rereadSince: number | undefined
  try {
    stderr = (await follow(remote)).stderr
  } catch (error) {
    const cut = errorText(error)
    try {
      const again = await options.reattach()
      info(`Following the host step was cut off (${cut}); reading its output again`)
      rereadSince = Date.now()
      // The file holds what was printed so far and more: the reader takes only the new part.
      const { stdout } = await again.run(awaitStepScript(outFile, STEP_WAIT_SECONDS, step.key), {
        phase: reader.lastPhase(first),
        timeoutSeconds: COMMAND_SECONDS.stepWait
      })
      if (stdout.split('\n').some(line => parseMarker(line, step.key)?.kind === 'absent')) {
        // Cut off before it started the step: nothing ran, so it starts now.
        info('The host step had not started; starting it again')
        reader = newReader()
        stderr = (await follow(again)).stderr
      } else reader.consume(stdout)
    } catch (second) {
      throw stepGone(
        `${cut}; reading the step's output again failed: ${errorText(second)}. The step goes on on the host`
      )
    }
  }
  reader.end()
  if (!reader.exit && !reader.died) {
    // Said only when it is so: the re-read waited for the step that long.
    if (rereadSince !== undefined && Date.now() - rereadSince >= STEP_WAIT_SECONDS * 1000)
      throw stepGone(`the host step has not finished after ${STEP_WAIT_SECONDS} s more`)
    close(undefined, false)
    if (timings) phaseInFlight(label, undefined)
    const read = [...reader.outputs.keys()]
    return {
      code: 1,
      unread:
        `the action read its output${read.length > 0 ? ` (the phases ${read.join(', ')})` : ''} to the end, ` +
        `but not the line that says how it ended${reader.pid === undefined ? ', nor the one naming its process' : ''}`,
      lastPhase: reader.lastPhase(first),
      outputs: reader.outputs
    }
  }
  const died = reader.exit ? undefined : { pid: reader.pid, status: reader.died?.status }
  const code = reader.exit?.code ?? 1
  if (died && stderr.trim()) {
    reader.outputs.get(reader.lastPhase(first))?.errors.push(lastLines(stderr, 10))
  }
  close(reader.exit?.uptime, code === 0)
  if (timings) phaseInFlight(label, undefined)
  return { code, died, lastPhase: reader.lastPhase(first), outputs: reader.outputs }
}

/**
 * Waits on the host, up to `seconds`, while a step is still writing `outFile` (its process alive
 * and no exit line yet). Returns at once when no step is running there. After the host library.
 */
export function waitForStepScript(outFile: string, seconds: number): ShellCode {
  return sh`wait_for_step ${outFile} ${seconds}`
}

/**
 * Waits for the step writing `outFile` to end, then prints its output (await-step.sh). With `key`,
 * a file that is not that step's output prints its `absent` marker: the step never ran.
 */
export function awaitStepScript(outFile: string, seconds: number, key?: string): ShellCode {
  return joinCode([
    hostLibrary(),
    withInputs(AWAIT_STEP_SCRIPT, {
      await_out: outFile,
      await_wait: seconds,
      await_key: key ?? '',
      await_line: key ? stepLine(key) : ''
    })
  ])
}

/** How a step ended, read from its output file (no exit code: it has not ended). */
export function stepOutcome(text: string): HostStepReader {
  return new HostStepReader().consume(text).end()
}

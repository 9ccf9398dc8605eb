import * as core from '@actions/core'
import { errorText, PhaseError, phaseInFlight, type PhaseName, type PhaseTiming } from './phase.js'
import { lastLines, type Remote } from './remote.js'
import { joinCode, sh, ShellCode } from './shell.js'

/**
 * Several phases run on the host as one detached command, so no network round trip falls between
 * them and a dropped connection or a cancelled job cannot stop it halfway. Its output goes to a
 * file, which the action follows over SSH (and the post step can re-read). Lines the phases print:
 *
 * - `@@pid PID` — the step's process, first
 * - `@@phase NAME UPTIME` — a phase begins (UPTIME from /proc/uptime, for its duration)
 * - `@@error TEXT` — part of the failing phase's message; `@@data KEY VALUE` — for the action
 * - `@@exit CODE UPTIME` — the step ended (written by its exit trap)
 *
 * Anything else is the phase's log.
 */
export interface HostStepPhase {
  phase: PhaseName
  body: ShellCode
}

/** The detached step: each phase's body after its marker; the first non-zero exit ends it. */
export function hostStepScript(phases: HostStepPhase[], prelude: ShellCode): ShellCode {
  return joinCode([
    prelude,
    sh`uptime_now() { read -r up _ < /proc/uptime 2>/dev/null || up=0; printf '%s' "$up"; }
trap 'printf "@@exit %s %s\n" "$?" "$(uptime_now)"' EXIT
printf '@@pid %s\n' "$$"`,
    ...phases.map(
      ({ phase, body }) => sh`printf '@@phase %s %s\n' ${phase} "$(uptime_now)"
${body}`
    )
  ])
}

/** How long a new step, a lock release or the post step waits for a step still running. */
export const STEP_WAIT_SECONDS = 600

/**
 * Starts `step` detached (its own session, output to `outFile`) and prints that file as it grows
 * until the step has ended; exits with the step's code. If this command is cut off, the step goes on.
 */
export function followScript(outFile: string, step: ShellCode): ShellCode {
  // A step an earlier, cut-off command left running (a restart whose connection dropped) ends first.
  return sh`${waitForStepScript(outFile, STEP_WAIT_SECONDS)}
rm -f -- ${outFile}
: > ${outFile} || exit 1
setsid sh -c ${step.text} < /dev/null >> ${outFile} 2>&1 &
step=$!
shown=0
while :; do
  size=$(wc -c < ${outFile})
  if [ "$size" -gt "$shown" ]; then tail -c +$((shown + 1)) -- ${outFile} | head -c $((size - shown)); shown=$size; fi
  case $(sed 's/.*) //' "/proc/$step/stat" 2>/dev/null | cut -c1) in '' | Z) break ;; esac
  sleep 0.05
done
tail -c +$((shown + 1)) -- ${outFile}
wait "$step"`
}

/** What one phase of a host step printed. */
export interface PhaseOutput {
  lines: string[]
  errors: string[]
  data: Record<string, string>
}

export interface HostStepResult {
  code: number
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
}

/**
 * Reads a host step's output line by line: which phase is running, each phase's lines, errors and
 * data, and the exit line. `onPhase` and `onLine` let a caller show the output as it comes.
 */
export class HostStepReader {
  readonly outputs = new Map<PhaseName, PhaseOutput>()
  current: { phase: PhaseName; uptime: number } | undefined
  exit: { code: number; uptime: number } | undefined
  private pending = ''
  private handled = 0

  constructor(
    private readonly on: {
      phase?: (phase: PhaseName, uptime: number) => void
      line?: (text: string) => void
    } = {}
  ) {}

  private handle(line: string): void {
    const marker = /^@@(phase|exit|error|data|pid) ?(.*)$/.exec(line)
    const [, kind, rest] = marker ?? []
    if (kind === 'phase') {
      const [phase, uptime] = rest.split(' ')
      this.on.phase?.(phase as PhaseName, Number(uptime))
      this.current = { phase: phase as PhaseName, uptime: Number(uptime) }
      this.outputs.set(this.current.phase, { lines: [], errors: [], data: {} })
      return
    }
    if (kind === 'exit') {
      const [code, uptime] = rest.split(' ')
      this.exit = { code: Number(code), uptime: Number(uptime) }
      return
    }
    if (kind === 'pid') return
    const output = this.current && this.outputs.get(this.current.phase)
    if (kind === 'data') {
      const [key, ...value] = rest.split(' ')
      if (output) output.data[key] = value.join(' ')
      return
    }
    const text = kind === 'error' ? rest : line
    if (output) (kind === 'error' ? output.errors : output.lines).push(text)
    this.on.line?.(text)
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
  const close = (uptime: number | undefined, ok = true): void => {
    const current = reader.current
    if (!current || !timings) return
    const seconds =
      uptime !== undefined && current.uptime > 0
        ? uptime - current.uptime
        : (Date.now() - wall) / 1000
    timings.push({ phase: current.phase, seconds: Math.max(0, seconds), ok })
    core.endGroup()
  }
  const reader: HostStepReader = new HostStepReader({
    phase: (phase, uptime) => {
      close(uptime)
      wall = Date.now()
      if (timings) {
        phaseInFlight(label, phase)
        core.startGroup(`${label}: ${phase}`)
      } else core.info(`-- ${phase}`)
    },
    line: text => core.info(text)
  })
  options.onStarted?.()
  const first = phases[0].phase
  let code: number
  try {
    const result = await remote.run(followScript(outFile, hostStepScript(phases, prelude)), {
      phase: first,
      timeoutSeconds: options.timeoutSeconds,
      allowFailure: true,
      onStdout: stdout => reader.consume(stdout)
    })
    reader.end()
    code = reader.exit ? reader.exit.code : result.code || 1
    if (!reader.exit) {
      reader.outputs
        .get(reader.lastPhase(first))
        ?.errors.push(`the host step ended without its exit line: ${lastLines(result.stderr, 10)}`)
    }
    close(reader.exit?.uptime, code === 0)
    if (timings) phaseInFlight(label, undefined)
  } catch (error) {
    close(undefined, false)
    if (timings) phaseInFlight(label, undefined)
    throw new PhaseError(
      label,
      reader.lastPhase(first),
      `${errorText(error)}. The step goes on on the host; its output is in ${outFile}`
    )
  }
  return { code, lastPhase: reader.lastPhase(first), outputs: reader.outputs }
}

/**
 * Waits on the host, up to `seconds`, while a step is still writing `outFile` (its process alive
 * and no exit line yet). Returns at once when no step is running there.
 */
export function waitForStepScript(outFile: string, seconds: number): ShellCode {
  return sh`pid=$(sed -n 's/^@@pid //p' ${outFile} 2>/dev/null | head -n 1)
waited=0
while [ -n "$pid" ] && [ -d "/proc/$pid" ] && ! grep -q '^@@exit ' ${outFile} && [ "$waited" -lt ${seconds * 5} ]; do
  sleep 0.2; waited=$((waited + 1))
done`
}

/** waitForStepScript, then prints the step's output file. */
export function awaitStepScript(outFile: string, seconds: number): ShellCode {
  return sh`${waitForStepScript(outFile, seconds)}
cat -- ${outFile} 2>/dev/null`
}

/** How a step ended, read from its output file (no exit code: it has not ended). */
export function stepOutcome(text: string): HostStepReader {
  return new HostStepReader().consume(text).end()
}

import * as core from '@actions/core'
import { PhaseError, type PhaseName, type PhaseTiming } from './phase.js'
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

/**
 * Starts `step` detached (its own session, output to `outFile`) and prints that file as it grows
 * until the step has ended; exits with the step's code. If this command is cut off, the step goes on.
 */
export function followScript(outFile: string, step: ShellCode): ShellCode {
  return sh`rm -f -- ${outFile}
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

/** Runs the phases as one host step, streaming each phase's lines to the log as they come. */
export async function runHostStep(
  phases: HostStepPhase[],
  prelude: ShellCode,
  options: HostStepOptions
): Promise<HostStepResult> {
  const { label, remote, outFile, timings } = options
  const outputs = new Map<PhaseName, PhaseOutput>()
  let current: { phase: PhaseName; uptime: number; wall: number } | undefined
  let pending = ''
  let handled = 0
  const close = (uptime: number | undefined, ok = true): void => {
    if (!current || !timings) return
    const seconds =
      uptime !== undefined && current.uptime > 0
        ? uptime - current.uptime
        : (Date.now() - current.wall) / 1000
    timings.push({ phase: current.phase, seconds: Math.max(0, seconds), ok })
    core.endGroup()
  }
  const handle = (line: string): void => {
    const marker = /^@@(phase|exit|error|data) ?(.*)$/.exec(line)
    if (marker?.[1] === 'phase') {
      const [phase, uptime] = marker[2].split(' ')
      close(Number(uptime))
      current = { phase: phase as PhaseName, uptime: Number(uptime), wall: Date.now() }
      outputs.set(current.phase, { lines: [], errors: [], data: {} })
      if (timings) core.startGroup(`${label}: ${phase}`)
      else core.info(`-- ${phase}`)
      return
    }
    if (marker?.[1] === 'exit' || line.startsWith('@@pid ')) return
    const output = current && outputs.get(current.phase)
    if (marker?.[1] === 'data') {
      const [key, ...value] = marker[2].split(' ')
      if (output) output.data[key] = value.join(' ')
      return
    }
    const text = marker?.[1] === 'error' ? marker[2] : line
    if (output) (marker ? output.errors : output.lines).push(text)
    core.info(text)
  }
  const consume = (stdout: string): void => {
    pending += stdout.slice(handled)
    handled = stdout.length
    const lines = pending.split('\n')
    pending = lines.pop() ?? ''
    lines.forEach(handle)
  }
  options.onStarted?.()
  let code: number
  try {
    const result = await remote.run(followScript(outFile, hostStepScript(phases, prelude)), {
      phase: phases[0].phase,
      timeoutSeconds: options.timeoutSeconds,
      allowFailure: true,
      onStdout: consume
    })
    if (pending) handle(pending)
    const exit = /^@@exit (\d+) (\S+)$/m.exec(result.stdout)
    code = exit ? Number(exit[1]) : result.code || 1
    if (!exit) {
      outputs
        .get(current?.phase ?? phases[0].phase)
        ?.errors.push(`the host step ended without its exit line: ${lastLines(result.stderr, 10)}`)
    }
    close(exit ? Number(exit[2]) : undefined, code === 0)
  } catch (error) {
    close(undefined, false)
    throw new PhaseError(
      label,
      current?.phase ?? phases[0].phase,
      `${error instanceof Error ? error.message : String(error)}. The step goes on on the host; its output is in ${outFile}`
    )
  }
  return { code, lastPhase: current?.phase ?? phases[0].phase, outputs }
}

/**
 * Waits on the host, up to `seconds`, while a step is still writing `outFile` (its process alive
 * and no exit line yet), then prints the file. Returns at once when no step is running there.
 */
export function awaitStepScript(outFile: string, seconds: number): ShellCode {
  return sh`pid=$(sed -n 's/^@@pid //p' ${outFile} 2>/dev/null | head -n 1)
waited=0
while [ -n "$pid" ] && [ -d "/proc/$pid" ] && ! grep -q '^@@exit ' ${outFile} && [ "$waited" -lt ${seconds * 5} ]; do
  sleep 0.2; waited=$((waited + 1))
done
cat -- ${outFile} 2>/dev/null`
}

/** How a step ended, read from its output file. */
export function stepOutcome(text: string): { code?: number; phase?: string; log: string[] } {
  const phases = [...text.matchAll(/^@@phase (\S+)/gm)].map(match => match[1])
  const exit = /^@@exit (\d+)/m.exec(text)
  return {
    code: exit ? Number(exit[1]) : undefined,
    phase: phases[phases.length - 1],
    log: text
      .split('\n')
      .filter(line => line && !/^@@(pid|phase|exit|data) /.test(line))
      .map(line => line.replace(/^@@error /, ''))
  }
}

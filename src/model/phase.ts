import * as core from '@actions/core'
import type { PhaseName } from './pipeline.js'

export type { PhaseName }

export interface PhaseTiming {
  phase: PhaseName
  /** When it began, in ms since the epoch (the timeline's bars). */
  startedAt: number
  seconds: number
  ok: boolean
}

/** An error's message, or the thrown value as text. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

const inFlight = new Map<string, { phase: PhaseName; startedAt: number }>()

/** Records the phase now running on `host` (undefined: none), for a cancellation to name. */
export function phaseInFlight(
  host: string,
  phase: PhaseName | undefined,
  startedAt = Date.now()
): void {
  if (phase) inFlight.set(host, { phase, startedAt })
  else inFlight.delete(host)
}

/** host → the phase running there now, and since when. */
export function phasesInFlight(): ReadonlyMap<string, { phase: PhaseName; startedAt: number }> {
  return inFlight
}

/** A failure that names the host and phase it happened in. */
export class PhaseError extends Error {
  constructor(
    readonly host: string,
    readonly phase: PhaseName,
    readonly detail: string
  ) {
    super(`[${host}] ${phase}: ${detail}`)
    this.name = 'PhaseError'
  }
}

/**
 * Runs one phase as a log group with its own time limit, records its duration, and rethrows any
 * failure as a PhaseError naming host and phase.
 */
export async function runPhase<T>(
  host: string,
  phase: PhaseName,
  timeoutSeconds: number,
  timings: PhaseTiming[],
  body: () => Promise<T>
): Promise<T> {
  const started = Date.now()
  phaseInFlight(host, phase, started)
  let timer: NodeJS.Timeout | undefined
  const record = (ok: boolean): void => {
    timings.push({ phase, startedAt: started, seconds: (Date.now() - started) / 1000, ok })
  }
  try {
    const result = await core.group(`${host}: ${phase}`, () =>
      Promise.race([
        body(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`did not finish within ${timeoutSeconds} s`)),
            timeoutSeconds * 1000
          )
        })
      ])
    )
    record(true)
    return result
  } catch (error) {
    record(false)
    if (error instanceof PhaseError) throw error
    throw new PhaseError(host, phase, errorText(error))
  } finally {
    clearTimeout(timer)
    phaseInFlight(host, undefined)
  }
}

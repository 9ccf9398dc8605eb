import type { PhaseTiming } from '../model/phase.js'

/** One host's phases, as the timeline draws them. */
export interface TimelineHost {
  host: string
  phases: readonly PhaseTiming[]
}

/** A host as a section title: `;` would end the statement, `#` and `%%` open an entity or comment. */
function sectionTitle(host: string): string {
  return host.replace(/[;#%\s]+/g, ' ').trim()
}

/** Tick steps a reader can count in, from a second to ten minutes. */
const TICKS: [seconds: number, interval: string][] = [
  [1, '1second'],
  [2, '2second'],
  [5, '5second'],
  [10, '10second'],
  [15, '15second'],
  [30, '30second'],
  [60, '1minute'],
  [120, '2minute'],
  [300, '5minute'],
  [600, '10minute']
]

/** At most this many ticks: their labels (HH:MM:SS) stay apart on a chart as wide as a summary. */
export const MOST_TICKS = 8

/**
 * The tick interval for a chart spanning `spanMs`: the finest step that keeps it to MOST_TICKS
 * ticks, and never below a second, whose labels would repeat.
 */
export function tickInterval(spanMs: number): string {
  const found = TICKS.find(([seconds]) => spanMs / 1000 / seconds <= MOST_TICKS)
  return (found ?? TICKS[TICKS.length - 1])[1]
}

/**
 * The deploy as a Mermaid gantt chart (GitHub renders it in the job summary): a section per host,
 * a row per phase from its start to its end, a failed phase marked `crit` (red) and with ✗.
 * Empty when no host ran a phase. Times are ms since the epoch (`dateFormat x`).
 */
export function timelineChart(hosts: readonly TimelineHost[]): string {
  const timed = hosts.filter(host => host.phases.length > 0)
  if (timed.length === 0) return ''
  const all = timed.flatMap(host => host.phases)
  const span =
    Math.max(...all.map(timing => timing.startedAt + timing.seconds * 1000)) -
    Math.min(...all.map(timing => timing.startedAt))
  const lines = [
    'gantt',
    '  dateFormat x',
    '  axisFormat %H:%M:%S',
    `  tickInterval ${tickInterval(span)}`
  ]
  for (const { host, phases } of timed) {
    lines.push(`  section ${sectionTitle(host)}`)
    for (const timing of phases) {
      const start = Math.round(timing.startedAt)
      const end = start + Math.round(timing.seconds * 1000)
      // A phase name never holds the `:` that would end a task's name.
      const name = `${timing.phase} ${timing.seconds.toFixed(1)} s${timing.ok ? '' : ' ✗'}`
      lines.push(`  ${name} :${timing.ok ? '' : 'crit, '}${start}, ${end}`)
    }
  }
  return lines.join('\n')
}

import type { PhaseTiming } from './phase.js'

/** One host's phases, as the timeline draws them. */
export interface TimelineHost {
  host: string
  phases: readonly PhaseTiming[]
}

/** A host as a section title: `;` would end the statement, `#` and `%%` open an entity or comment. */
function sectionTitle(host: string): string {
  return host.replace(/[;#%\s]+/g, ' ').trim()
}

/**
 * The deploy as a Mermaid gantt chart (GitHub renders it in the job summary): a section per host,
 * a row per phase from its start to its end, a failed phase marked `crit` (red) and with ✗.
 * Empty when no host ran a phase. Times are ms since the epoch (`dateFormat x`).
 */
export function timelineChart(hosts: readonly TimelineHost[]): string {
  const timed = hosts.filter(host => host.phases.length > 0)
  if (timed.length === 0) return ''
  const lines = ['gantt', '  dateFormat x', '  axisFormat %H:%M:%S']
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

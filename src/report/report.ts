import * as core from '@actions/core'
import type { PhaseTiming } from '../model/phase.js'
import type { Operation } from '../inputs/settings.js'
import { timelineChart } from './timeline.js'

export type HostResult = 'success' | 'failed' | 'cancelled' | 'dry-run' | 'not-started'

/** What is known about one host's deploy; filled in as phases run. */
export interface HostReport {
  host: string
  result: HostResult
  sha?: string
  release?: string
  /** The run's release was removed after a failure: it is on the host no more. */
  releaseRemoved?: true
  previousSha?: string
  previousRelease?: string
  rolledBack: boolean
  /** After a failure past the switch: how the rollback went, in one sentence. */
  rollbackOutcome?: string
  /** What the version endpoint reported: its `version` field, else the commit. */
  reportedVersion?: string
  /** The `version` the old service reported before it was stopped (allow-downgrade: false). */
  previousVersion?: string
  /**
   * From the stop being sent to the first verified answer of what serves next: the new release,
   * or the one a rollback restored.
   */
  downtimeSeconds?: number
  /** The restart stopped nothing (a first deploy): no downtime. */
  nothingStopped?: true
  /** overlap: the new release answered beside the old one before the old one was stopped. */
  overlapped?: true
  /** hold-ports: what the port holder kept listening across the restart (ADDRESS:PORT). */
  heldPorts?: string[]
  /** With python-requirements: whether the venv was reused rather than built. */
  venvReused?: boolean
  uploadedFiles?: number
  uploadedBytes?: number
  phases: PhaseTiming[]
  error?: string
  failedPhase?: string
  plan?: string[]
}

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;'
}

/** Text as HTML: the summary is HTML and Markdown, so `<module>` or `*args` must stay text. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, char => HTML_ESCAPES[char])
}

/**
 * A log excerpt (a traceback, a plan) in the summary: a fenced block inside <details>, verbatim.
 * The blank lines around the fence end the HTML blocks, as GitHub's Markdown needs; the fence is
 * longer than any backtick run in the text. `language` mermaid makes GitHub draw it.
 */
function addExcerpt(
  summary: typeof core.summary,
  body: string,
  label: string,
  language = 'text'
): void {
  if (!body.trim()) return
  const longest = Math.max(0, ...(body.match(/`+/g) ?? []).map(run => run.length))
  const fence = '`'.repeat(Math.max(3, longest + 1))
  summary
    .addRaw(`<details open><summary>${escapeHtml(label)}</summary>`, true)
    .addEOL()
    .addRaw(`${fence}${language}\n${body}\n${fence}`, true)
    .addEOL()
    .addRaw('</details>', true)
    .addEOL()
}

/**
 * A failure message (it may quote a host: its output, a start log, a service's answer): its first
 * line as a paragraph, flattened to one line of text so nothing in it can end the HTML block and
 * be read as Markdown (a `\r` is a line end to Markdown too), the rest as a fenced excerpt.
 */
function addMessage(summary: typeof core.summary, text: string, lead = ''): void {
  const [first, ...rest] = text.replace(/\s+$/, '').split('\n')
  const line = first.replace(/[\p{Cc}\p{Cf}\u2028\u2029]+/gu, ' ')
  summary.addRaw(`<p>${lead}${escapeHtml(line)}</p>`, true).addEOL()
  addExcerpt(summary, rest.join('\n'), 'Details')
}

/** Whether the deploy's restart began: its stop was sent, so the old service may be down. */
function stopWasSent(host: HostReport): boolean {
  return host.phases.some(timing => timing.phase === 'stop')
}

/** The Downtime cell: measured, unknown (stopped, nothing verified since), or none (never stopped). */
function downtimeCell(host: HostReport): string {
  if (host.downtimeSeconds !== undefined) {
    const seconds = `${host.downtimeSeconds.toFixed(2)} s`
    if (host.rolledBack) return `${seconds} (until the rollback answered)`
    // With hold-ports nothing was refused: clients waited in the kernel's queue that long.
    if (host.overlapped)
      return `${seconds} (overlap: the new release answered before the old one stopped)`
    return host.heldPorts ? `${seconds} (waited in the queue)` : seconds
  }
  // core.summary writes an empty cell as a void <td>: a dash says "none" and closes it.
  return stopWasSent(host) && !host.nothingStopped ? 'unknown' : '-'
}

/** The summary's verdict for a run whose hosts all succeeded, per operation. */
const DONE: Record<Operation, string> = {
  deploy: 'Deployed to',
  rollback: 'Rolled back on',
  restart: 'Restarted on',
  verify: 'Verified on'
}

/** Collects per-host results; writes outputs and one job summary, also on failure. */
export class DeployReport {
  readonly hosts: HostReport[] = []
  sha?: string
  /** Set when the inputs were refused: the summary lists them instead of hosts. */
  inputProblems?: string[]
  /** A failure before any host was tried (e.g. the commit could not be told). */
  error?: string
  /** The run was cancelled: what the action said when it was. */
  cancelled?: string
  /** With environment: the GitHub deployment recording this run. */
  deploymentId?: number
  /** What the run did to each host (the operation input). */
  operation: Operation = 'deploy'
  private readonly started = Date.now()

  addHost(host: string): HostReport {
    const report: HostReport = { host, result: 'not-started', rolledBack: false, phases: [] }
    this.hosts.push(report)
    return report
  }

  private first<K extends keyof HostReport>(key: K): HostReport[K] | undefined {
    return this.hosts.find(host => host[key] !== undefined)?.[key]
  }

  private total(key: 'uploadedFiles' | 'uploadedBytes'): number {
    return this.hosts.reduce((sum, host) => sum + (host[key] ?? 0), 0)
  }

  /** The longest downtime over the hosts that measured one, or empty when none did. */
  private longestDowntime(): string {
    const measured = this.hosts.flatMap(host => host.downtimeSeconds ?? [])
    return measured.length > 0 ? Math.max(...measured).toFixed(2) : ''
  }

  /** true when every host that set up a venv reused it, false when one built it, else empty. */
  private venvReused(): string {
    const known = this.hosts.flatMap(host => host.venvReused ?? [])
    return known.length > 0 ? String(known.every(Boolean)) : ''
  }

  outputs(): Record<string, string> {
    return {
      sha: this.sha ?? '',
      release: this.first('release') ?? '',
      'previous-sha': this.first('previousSha') ?? '',
      'previous-release': this.first('previousRelease') ?? '',
      'rolled-back': String(this.hosts.some(host => host.rolledBack)),
      'reported-version': this.first('reportedVersion') ?? '',
      'uploaded-files': String(this.total('uploadedFiles')),
      'uploaded-bytes': String(this.total('uploadedBytes')),
      'duration-seconds': ((Date.now() - this.started) / 1000).toFixed(1),
      'downtime-seconds': this.longestDowntime(),
      'venv-reused': this.venvReused(),
      'deployment-id': this.deploymentId === undefined ? '' : String(this.deploymentId),
      hosts: JSON.stringify(
        this.hosts.map(({ plan: _plan, ...host }) => ({
          ...host,
          downtimeSeconds:
            host.downtimeSeconds === undefined
              ? undefined
              : Number(host.downtimeSeconds.toFixed(2)),
          phases: host.phases.map(timing => ({
            ...timing,
            seconds: Number(timing.seconds.toFixed(2))
          }))
        }))
      )
    }
  }

  writeOutputs(): void {
    for (const [name, value] of Object.entries(this.outputs())) core.setOutput(name, value)
  }

  /** Adds the job summary to `core.summary` (not yet written). */
  buildSummary(): typeof core.summary {
    const summary = core.summary.addHeading('Verified SSH Deploy', 2)
    if (this.inputProblems) {
      return summary
        .addRaw(
          `<p><strong>The inputs were refused</strong>, so nothing was changed on any host. Fix ${this.inputProblems.length > 1 ? 'these' : 'this'} and run again:</p>`,
          true
        )
        .addEOL()
        .addList(this.inputProblems.map(escapeHtml))
    }
    const failed = this.hosts.filter(
      host => host.result === 'failed' || host.result === 'cancelled'
    )
    const cancelled = this.hosts.filter(host => host.result === 'cancelled')
    const verdict =
      this.error !== undefined
        ? 'Failed before any host was deployed'
        : this.cancelled !== undefined
          ? `Cancelled${cancelled.length > 0 ? ` on ${cancelled.length} of ${this.hosts.length} host${this.hosts.length > 1 ? 's' : ''}` : ''}`
          : failed.length > 0
            ? `Failed on ${failed.length} of ${this.hosts.length} host${this.hosts.length > 1 ? 's' : ''}`
            : this.hosts.every(host => host.result === 'dry-run')
              ? 'Dry run: nothing was changed'
              : `${DONE[this.operation]} ${this.hosts.length} host${this.hosts.length > 1 ? 's' : ''}`
    summary
      .addRaw(
        `<p><strong>${escapeHtml(verdict)}</strong>` +
          (this.sha ? ` · commit <code>${escapeHtml(this.sha)}</code>` : '') +
          ` · ${((Date.now() - this.started) / 1000).toFixed(1)} s</p>`,
        true
      )
      .addEOL()
    if (this.error !== undefined) addMessage(summary, this.error)
    if (this.cancelled !== undefined) addMessage(summary, this.cancelled)
    if (this.hosts.length === 0) return summary
    summary.addTable([
      ['Host', 'Result', 'Release', 'Downtime', 'Rolled back'].map(data => ({
        data,
        header: true
      })),
      ...this.hosts.map(host =>
        [
          host.host,
          host.result + (host.failedPhase ? ` in ${host.failedPhase}` : ''),
          // A dash, not an empty (void) cell: see downtimeCell.
          host.release ? `${host.release}${host.releaseRemoved ? ' (removed)' : ''}` : '-',
          downtimeCell(host),
          host.rolledBack ? 'yes' : 'no'
        ].map(escapeHtml)
      )
    ])
    for (const host of this.hosts) {
      if (host.result === 'not-started') continue
      summary.addEOL().addHeading(escapeHtml(`${host.host}: ${host.result}`), 3)
      if (host.phases.length > 0) {
        const times = host.phases
          .map(timing => `${timing.phase} ${timing.seconds.toFixed(1)} s${timing.ok ? '' : ' ✗'}`)
          .join(' · ')
        summary.addRaw(`<p>${escapeHtml(times)}</p>`, true).addEOL()
      }
      if (host.heldPorts) {
        const held = host.heldPorts.join(', ')
        summary
          .addRaw(
            `<p>Held across the restart (hold-ports): ${escapeHtml(held)}: connections waited in the queue instead of being refused.</p>`,
            true
          )
          .addEOL()
      }
      if (host.error) {
        addMessage(summary, host.error)
        const outcome = host.rollbackOutcome
        if (outcome) addMessage(summary, outcome, '<strong>Rollback:</strong> ')
        if (host.downtimeSeconds === undefined && stopWasSent(host)) {
          summary
            .addRaw(
              '<p>Downtime unknown: the old service was sent its stop, and nothing was verified serving after that: it may still be down.</p>',
              true
            )
            .addEOL()
        }
      }
      if (host.plan) addExcerpt(summary, host.plan.join('\n'), 'The plan (dry run)')
    }
    // Last: what failed and why comes first, the picture of when after it.
    addExcerpt(summary, timelineChart(this.hosts), 'Timeline', 'mermaid')
    return summary
  }

  async writeSummary(): Promise<void> {
    if (!process.env.GITHUB_STEP_SUMMARY) return
    await this.buildSummary().write()
  }
}

import * as core from '@actions/core'
import type { PhaseTiming } from './phase.js'

export type HostResult = 'success' | 'failed' | 'cancelled' | 'dry-run' | 'not-started'

/** What is known about one host's deploy; filled in as phases run. */
export interface HostReport {
  host: string
  result: HostResult
  sha?: string
  release?: string
  previousSha?: string
  previousRelease?: string
  rolledBack: boolean
  /** What the version endpoint reported: its `version` field, else the commit. */
  reportedVersion?: string
  /** The `version` the old service reported before it was stopped (allow-downgrade: false). */
  previousVersion?: string
  /** From the stop being sent to the first answer reporting the new commit. */
  downtimeSeconds?: number
  /** With python-requirements: whether the venv was reused rather than built. */
  venvReused?: boolean
  uploadedFiles?: number
  uploadedBytes?: number
  phases: PhaseTiming[]
  error?: string
  failedPhase?: string
  plan?: string[]
}

/** Collects per-host results; writes outputs and one job summary, also on failure. */
export class DeployReport {
  readonly hosts: HostReport[] = []
  sha?: string
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
    if (this.sha) summary.addRaw(`Commit <code>${this.sha}</code>`, true)
    summary.addTable([
      [
        { data: 'Host', header: true },
        { data: 'Result', header: true },
        { data: 'SHA', header: true },
        { data: 'Release', header: true },
        { data: 'Phases', header: true },
        { data: 'Downtime', header: true },
        { data: 'Rolled back', header: true }
      ],
      ...this.hosts.map(host => [
        host.host,
        host.result,
        host.sha?.slice(0, 12) ?? '',
        host.release ?? '',
        host.phases
          .map(timing => `${timing.phase} ${timing.seconds.toFixed(1)} s${timing.ok ? '' : ' ✗'}`)
          .join(', '),
        host.downtimeSeconds === undefined ? '' : `${host.downtimeSeconds.toFixed(2)} s`,
        host.rolledBack ? 'yes' : 'no'
      ])
    ])
    const byResult = (result: HostResult) =>
      this.hosts.filter(host => host.result === result).map(host => host.host)
    if (this.hosts.length > 1) {
      summary.addList([
        `Deployed: ${byResult('success').join(', ') || 'none'}`,
        `Failed: ${byResult('failed').join(', ') || 'none'}`,
        ...(byResult('cancelled').length > 0
          ? [`Cancelled: ${byResult('cancelled').join(', ')}`]
          : []),
        `Not started: ${byResult('not-started').join(', ') || 'none'}`
      ])
    }
    for (const host of this.hosts) {
      if (host.error) summary.addHeading(`${host.host}: failed`, 3).addCodeBlock(host.error)
      if (host.plan)
        summary.addHeading(`${host.host}: plan (dry run)`, 3).addCodeBlock(host.plan.join('\n'))
    }
    return summary
  }

  async writeSummary(): Promise<void> {
    if (!process.env.GITHUB_STEP_SUMMARY) return
    await this.buildSummary().write()
  }
}

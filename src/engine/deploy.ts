import * as core from '@actions/core'
import { openSshHost, type OpenHost } from './deploy-host.js'
import { hostLabel, type HostAddress } from '../inputs/host-address.js'
import { withHostOutput } from '../report/host-output.js'
import { info } from '../report/host-text.js'
import { operationPhases, runOperation } from './operations.js'
import { errorText, PhaseError, runPhase } from '../model/phase.js'
import { scanUploadSource } from '../tasks/upload.js'
import { describePlan, phaseBudget } from '../model/pipeline.js'
import type { DeployReport, HostReport } from '../report/report.js'
import type { Settings } from '../inputs/settings.js'

/** Runs the operation against one host (or plans it, on a dry run), recording what happened in `report`. */
async function deployHost(
  address: HostAddress,
  settings: Settings,
  sha: string,
  report: HostReport,
  open: OpenHost
): Promise<void> {
  const label = hostLabel(address)
  report.sha = sha
  // Hash the source while connecting; the upload phase awaits this same scan.
  if (!settings.dryRun && settings.operation === 'deploy') void scanUploadSource(settings)
  const host = await runPhase(
    label,
    'connect',
    phaseBudget(settings, 'connect'),
    report.phases,
    () => open(address, settings)
  )
  try {
    if (!settings.dryRun) return await runOperation(host, settings, sha, report)
    const plan = describePlan(
      settings,
      operationPhases(settings.operation),
      { label, target: host.session.target, startLog: host.session.startLog },
      sha,
      new Date()
    )
    await runPhase(label, 'plan', 10, report.phases, async () => {
      info('Dry run: nothing on the host is changed. The deploy would run:')
      for (const line of plan) info(line)
    })
    report.plan = plan
    report.result = 'dry-run'
  } finally {
    host.close()
  }
}

/** Deploys to one host, turning a failure into its report entry and an annotation. */
async function deployRecorded(
  address: HostAddress,
  settings: Settings,
  sha: string,
  host: HostReport,
  open: OpenHost
): Promise<boolean> {
  try {
    await deployHost(address, settings, sha, host, open)
    return true
  } catch (error) {
    host.result = 'failed'
    host.error = errorText(error)
    host.failedPhase = error instanceof PhaseError ? error.phase : undefined
    core.error([host.error, host.rollbackOutcome].filter(Boolean).join('\n'), {
      title: `Deploy to ${host.host} failed in ${host.failedPhase ?? 'deploy'}${host.rolledBack ? '; rolled back' : ''}`
    })
    return false
  }
}

/**
 * Deploys to every host, `max-parallel` at a time. After the first failure no further host is
 * started (with 1, a rolling deploy that stops there); hosts already done stay on the new release.
 */
export async function deployAll(
  settings: Settings,
  sha: string,
  report: DeployReport,
  open: OpenHost = openSshHost
): Promise<void> {
  const hosts = settings.hosts.map(address => ({
    address,
    report: report.addHost(hostLabel(address))
  }))
  let next = 0
  let failed = false
  const separateOutput = settings.maxParallel > 1 && hosts.length > 1
  const worker = async (): Promise<void> => {
    while (!failed && next < hosts.length) {
      const { address, report: host } = hosts[next++]
      const deployed = await withHostOutput(host.host, separateOutput, () =>
        deployRecorded(address, settings, sha, host, open)
      )
      if (!deployed) failed = true
    }
  }
  await Promise.all(Array.from({ length: Math.min(settings.maxParallel, hosts.length) }, worker))
  const failures = report.hosts.filter(host => host.result === 'failed')
  if (failures.length === 0) return
  const done = report.hosts.filter(host => host.result === 'success').map(host => host.host)
  const skipped = report.hosts.filter(host => host.result === 'not-started').map(host => host.host)
  throw new Error(
    failures
      .map(
        host =>
          `Deploy failed on ${host.host} in ${host.failedPhase ?? 'deploy'}` +
          (host.rolledBack ? '; the previous release was restored and verified' : '')
      )
      .join('. ') +
      (done.length > 0 ? `. Deployed (left on the new release): ${done.join(', ')}` : '') +
      (skipped.length > 0 ? `. Not started: ${skipped.join(', ')}` : '') +
      '. The errors above and the job summary have the details.'
  )
}

import * as core from '@actions/core'
import { hostLabel, type HostAddress } from './host-address.js'
import { connect } from './phases/connect.js'
import { PhaseError, runPhase } from './phase.js'
import { describePlan } from './plan.js'
import type { DeployReport, HostReport } from './report.js'
import type { Settings } from './settings.js'

const errorText = (error: unknown): string =>
  error instanceof Error ? error.message : String(error)

/** Runs the pipeline against one host, recording what happened in `report`. */
async function deployHost(
  address: HostAddress,
  settings: Settings,
  sha: string,
  report: HostReport
): Promise<void> {
  const label = hostLabel(address)
  report.sha = sha
  const session = await runPhase(
    label,
    'connect',
    settings.connectTimeoutSeconds * 2 + 30,
    report.phases,
    () => connect(address, settings)
  )
  try {
    if (settings.dryRun) {
      const plan = describePlan(
        settings,
        { label, target: session.target, startLog: session.startLog },
        sha,
        new Date()
      )
      await runPhase(label, 'plan', 10, report.phases, async () => {
        core.info('Dry run: nothing on the host is changed. The deploy would run:')
        for (const line of plan) core.info(line)
      })
      report.plan = plan
      report.result = 'dry-run'
      return
    }
    throw new PhaseError(
      label,
      'lock',
      'deploying (dry-run: false) is not available in this version yet; run with dry-run: true'
    )
  } finally {
    session.close()
  }
}

/** Deploys to every host, one at a time, stopping at the first failure (a rolling deploy). */
export async function deployAll(
  settings: Settings,
  sha: string,
  report: DeployReport
): Promise<void> {
  for (const [index, address] of settings.hosts.entries()) {
    const host = report.addHost(hostLabel(address))
    try {
      await deployHost(address, settings, sha, host)
    } catch (error) {
      host.result = 'failed'
      host.error = errorText(error)
      for (const rest of settings.hosts.slice(index + 1)) report.addHost(hostLabel(rest))
      const skipped = settings.hosts.length - index - 1
      throw new Error(
        host.error + (skipped > 0 ? `\n${skipped} later host(s) were not started.` : ''),
        { cause: error }
      )
    }
  }
}

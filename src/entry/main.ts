import * as core from '@actions/core'
import { errorText } from '../model/phase.js'
import { exitOnCancel } from './cancel.js'
import { deployAll } from '../engine/deploy.js'
import type { OpenHost } from '../engine/deploy-host.js'
import { GitHubDeployment } from '../report/deployments.js'
import { hostLabel } from '../inputs/host-address.js'
import { DeployReport } from '../report/report.js'
import { operationSha } from '../inputs/revision.js'
import { InputError } from '../inputs/inputs.js'
import { getSettings } from '../inputs/settings.js'
import { startPostState } from '../model/post-state.js'

/**
 * The action: parse inputs, run the operation on every host, and always report. `open` connects to
 * a host (SSH; the tests' fake host in main.test.ts).
 */
export async function run(open?: OpenHost): Promise<void> {
  // First: every key the post step reads is this step's, empty until it has a value.
  startPostState()
  const report = new DeployReport()
  let deployment: GitHubDeployment | undefined
  exitOnCancel(report, async () => deployment?.cancelled())
  try {
    const settings = getSettings()
    report.operation = settings.operation
    report.sha = await operationSha(settings)
    // A rollback or a restart learns its commit on the host; a verify changes nothing to record.
    deployment =
      settings.dryRun || settings.operation !== 'deploy'
        ? undefined
        : await GitHubDeployment.start(
            settings,
            report.sha,
            settings.hosts.map(address => hostLabel(address))
          )
    report.deploymentId = deployment?.id
    try {
      await deployAll(settings, report.sha, report, open)
    } finally {
      // What a rollback or a restart made live, as the host said.
      report.sha ||= report.hosts.find(host => host.sha)?.sha
      await deployment?.finish(
        report.hosts.every(host => host.result === 'success'),
        report.hosts.some(host => host.rolledBack)
      )
    }
  } catch (error) {
    if (error instanceof InputError) report.inputProblems = error.problems
    else if (report.hosts.length === 0) report.error = errorText(error)
    core.setFailed(errorText(error))
  } finally {
    report.writeOutputs()
    await report.writeSummary()
  }
}

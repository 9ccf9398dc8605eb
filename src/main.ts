import * as core from '@actions/core'
import { exitOnCancel } from './cancel.js'
import { deployAll } from './deploy.js'
import { DeployReport } from './report.js'
import { resolveSha } from './revision.js'
import { getSettings, InputError } from './settings.js'

/** The action: parse inputs, deploy, and always report. */
export async function run(): Promise<void> {
  const report = new DeployReport()
  exitOnCancel(report)
  try {
    const settings = getSettings()
    report.sha = resolveSha(settings.sha, settings.source)
    await deployAll(settings, report.sha, report)
  } catch (error) {
    if (error instanceof InputError) report.inputProblems = error.problems
    else if (report.hosts.length === 0)
      report.error = error instanceof Error ? error.message : String(error)
    core.setFailed(error instanceof Error ? error.message : String(error))
  } finally {
    report.writeOutputs()
    await report.writeSummary()
  }
}

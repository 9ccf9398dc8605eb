import * as core from '@actions/core'
import { phasesInFlight } from '../model/phase.js'
import type { DeployReport } from '../report/report.js'
import { cancelSentence } from '../model/outcomes.js'

/**
 * The runner cancels a step with SIGINT, sends SIGTERM 7.5 s later and kills it 2.5 s after that,
 * then runs the post step. On the first signal the action says where each host was, writes its
 * outputs and summary, and exits: a restart already on the host finishes there by itself, and the
 * post step verifies (or rolls back) a switch left unverified and releases the locks.
 */
export function exitOnCancel(report: DeployReport, onCancel: () => Promise<void>): void {
  let cancelled = false
  const onSignal = (signal: NodeJS.Signals): void => {
    if (cancelled) return
    cancelled = true
    const where = [...phasesInFlight()].map(([host, { phase, startedAt }]) => {
      const entry = report.hosts.find(candidate => candidate.host === host)
      // Past verify (prune, the lock release) the operation on that host stands: it stays a success.
      if (entry?.result === 'success') return { host, phase, stands: true }
      if (entry) {
        entry.result = 'cancelled'
        entry.failedPhase = phase
        // The phase it was in: in the summary's phase times and timeline too, as cut off.
        entry.phases.push({ phase, startedAt, seconds: (Date.now() - startedAt) / 1000, ok: false })
      }
      return { host, phase, stands: false }
    })
    const message = cancelSentence({ signal, operation: report.operation, where })
    report.cancelled = message
    core.setFailed(message)
    report.writeOutputs()
    void Promise.allSettled([report.writeSummary(), onCancel()]).finally(() => process.exit(1))
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
}

import type { DeployContext } from '../model/context.js'
import { followScript, hostStepScript } from '../remote/host-step.js'
import { relativeToTarget, UNVERIFIED_MARK, type RemoteLayout } from '../remote/layout.js'
import { parseJournalLines } from '../remote/journal.js'
import { hostLibrary, journalFor } from '../remote/host-library.js'
import ARM_SCRIPT from '../host/watchdog/arm.sh'
import DECIDE_SCRIPT from '../host/watchdog/decide.sh'
import WATCHDOG_SCRIPT from '../host/watchdog/watchdog.sh'
import { joinCode, withInputs, type ShellCode } from '../remote/shell.js'
import LAUNCH_WATCHDOG_SCRIPT from '../host/watchdog/launch-watchdog.sh'
import { discardReleaseScript } from './prune.js'
import { restartPhases, restartPrelude } from './restart.js'
import { fallbackContext, switchBackScript, type Fallback } from './fallback.js'
import {
  HEARTBEAT_STALE_SECONDS,
  STEP_WAIT_SECONDS,
  WATCHDOG_GRACE_SECONDS
} from '../model/budgets.js'

/*
 * Commit confirmed, as a network device does it: after the switch the new release is provisional.
 * The runner confirms it once verify passes; if no confirmation comes within the verify budget
 * plus a grace (WATCHDOG_GRACE_SECONDS), while the runner sends no heartbeat (it died, or froze), a watchdog the restart
 * step left on the host returns to the last verified release by itself, checks that new processes
 * hold the ports, records it in the journal and frees the lock.
 *
 * Its files live in the lock, so they go with it:
 * - `watchdog.sh`: its script, written before the restart (before the disk may fill);
 * - `provisional`: a directory standing for the decision not taken yet. Whoever renames it first
 *   decides (a rename needs no space): to `confirmed` (the runner: verify passed), `rollback` (the
 *   runner rolls back itself) or `undo` (the watchdog);
 * - `watchdog.pid`: its process, so no later deploy breaks the lock while it waits.
 */

/** The journal's bytes set aside before each restart, so a full disk cannot cut a line of it. */
const JOURNAL_RESERVE = 65536

/** The journal keeps this many lines; older ones go when a deploy arms its watchdog. */
const JOURNAL_LINES = 2000

/** How long after its start the watchdog waits for a confirmation (with a heartbeat, longer). */
export function watchdogBudgetSeconds(ctx: DeployContext): number {
  const { settings } = ctx
  return settings.versionTimeoutSeconds + settings.stableForSeconds + WATCHDOG_GRACE_SECONDS
}

/**
 * The watchdog: waits while the release is provisional and the lock is this run's; once the budget
 * is over and the heartbeat stale, takes the decision, runs a restart to the fallback (through
 * followScript, so it is recorded like any restart), waits for new processes on the ports,
 * journals the outcome, removes the release it undid and frees the lock.
 */
export function watchdogScript(ctx: DeployContext, fallback: Fallback): ShellCode {
  const { layout, settings, release, lockToken } = ctx
  const reason = `not confirmed by its run (${ctx.run})`
  const undoStep = hostStepScript(
    restartPhases(fallbackContext(ctx, fallback), switchBackScript(ctx, fallback, reason, 'host')),
    restartPrelude(layout)
  )
  const here = relativeToTarget(layout)
  return joinCode([
    hostLibrary({ file: here.journal, token: lockToken }),
    withInputs(WATCHDOG_SCRIPT, {
      wd_undo: followScript(here.restartLog, undoStep).text,
      wd_discard: discardReleaseScript(layout, release).text,
      wd_target: layout.target,
      wd_deploy: here.deployDir,
      wd_lock: here.lockDir,
      wd_token: lockToken,
      wd_budget: watchdogBudgetSeconds(ctx),
      wd_stale: HEARTBEAT_STALE_SECONDS,
      wd_release: release,
      wd_fallback: fallback.release,
      wd_fallback_sha: fallback.sha,
      wd_ports: settings.ports,
      wd_version_timeout: settings.versionTimeoutSeconds,
      wd_restart_log: layout.restartLog
    })
  ])
}

/**
 * Launches the armed watchdog right after the switch, before the start (part of the restart
 * step): a start that fails, a service that dies, a verify nobody runs all end with the host back
 * on the last verified release when the runner is gone.
 */
export function launchWatchdogScript(ctx: DeployContext): ShellCode {
  const { layout, release, lockToken } = ctx
  const here = relativeToTarget(layout)
  return joinCode([
    journalFor({ file: here.journal, token: lockToken }),
    withInputs(LAUNCH_WATCHDOG_SCRIPT, {
      launch_lock: here.lockDir,
      launch_release: release,
      launch_budget: watchdogBudgetSeconds(ctx)
    })
  ])
}

/**
 * Arms the watchdog before anything stops: the fallback's restart step and the watchdog's script
 * go into the lock, the decision directory is made, and the journal gets room for this deploy.
 */
export function armScript(ctx: DeployContext, fallback: Fallback): ShellCode {
  const { layout, release, lockToken } = ctx
  const here = relativeToTarget(layout)
  return joinCode([
    hostLibrary({ file: here.journal, token: lockToken }),
    withInputs(ARM_SCRIPT, {
      arm_target: layout.target,
      arm_lock: here.lockDir,
      arm_journal: here.journal,
      arm_keep: JOURNAL_LINES,
      arm_reserve: JOURNAL_RESERVE,
      arm_release: release,
      arm_fallback: fallback.release
    })
  ])
}

/**
 * Takes the decision on the provisional release as `as` (confirmed after verify, rollback before
 * the run's own rollback), unless the watchdog took it. Prints `mine` (also when nothing was armed,
 * or another deploy broke the lock: its restart step's fence then stops this run) or `undone`,
 * then, once the watchdog is done, this run's journal lines.
 */
export function decideScript(
  layout: RemoteLayout,
  token: string,
  as: 'confirmed' | 'rollback',
  release: string
): ShellCode {
  const here = relativeToTarget(layout)
  return joinCode([
    hostLibrary({ file: here.journal, token }),
    withInputs(DECIDE_SCRIPT, {
      decide_target: layout.target,
      decide_lock: here.lockDir,
      decide_token: token,
      decide_as: as,
      decide_release: release,
      decide_unverified: UNVERIFIED_MARK,
      decide_journal: here.journal,
      decide_wait: STEP_WAIT_SECONDS
    })
  ])
}

/** What the host's watchdog did, from this run's journal lines. */
export interface HostUndo {
  /** The fallback serves again: started, and new processes hold its ports. */
  undone: boolean
  /** In words, for the failure message and the summary. */
  text: string
}

/** Reads the watchdog's lines of `journal …` output; undefined when it took no decision. */
export function readHostUndo(
  stdout: string,
  release: string,
  journal: string
): HostUndo | undefined {
  const lines = parseJournalLines(stdout).map(({ time, words }) => ({ time, rest: words }))
  const undo = lines.find(line => line.rest.startsWith('undo '))
  if (!undo) return undefined
  const outcome = lines.find(line => /^(undone|undo-failed) /.test(line.rest))
  const released = lines.some(line => line.rest === 'released the lock')
  const why = undo.rest.replace(/^undo [^:]*: /, '').replace(/\. Returning to .*$/, '')
  const how = !outcome
    ? 'it has not recorded how that went yet'
    : outcome.rest.startsWith('undone ')
      ? `${outcome.rest.split(' ')[1]} serves again: ${outcome.rest.replace(/^[^:]*: /, '')}`
      : `that failed: ${outcome.rest.replace(/^undo-failed /, '')}`
  return {
    undone: outcome?.rest.startsWith('undone ') ?? false,
    text:
      `The host undid ${release} by itself at ${undo.time} (${why}); ${how}` +
      `${released ? ', and it freed the deploy lock' : ''}. Its record: ${journal}.`
  }
}

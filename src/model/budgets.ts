import type { Settings } from '../inputs/settings.js'

/** A stop-command and the wait for the old service's exit each get up to stop-timeout. */
const STOP_PARTS = 2
/** After SIGKILL (kill-after-timeout), how long wait-for-exit gives the kernel to reap. */
const AFTER_KILL_SECONDS = 5
/**
 * Every time limit of the action is here: what each phase may take (phaseBudgets), what each of
 * its own remote commands may (COMMAND_SECONDS), and how long the runner, the host step and the
 * watchdog wait for each other.
 */

/** How long a new step, a lock release or the post step waits for a host step still running. */
export const STEP_WAIT_SECONDS = 600
/**
 * A lock whose heartbeat is this old, with no host step of its running, belongs to a runner that
 * died or froze: the next deploy breaks it. Above the gap between a cancelled main step and its
 * post step, which takes the lock over.
 */
export const HEARTBEAT_STALE_SECONDS = 30
/** What the host's watchdog waits beyond the run's own budget before it undoes the release. */
export const WATCHDOG_GRACE_SECONDS = 30
/** One request to version-url. */
export const VERSION_REQUEST_MS = 5000
/** A start-command run in the foreground (detach: false), such as `systemctl start`. */
const FOREGROUND_START_SECONDS = 1800
/** Uploading the tree, and preparing it (venv, prepare-command): both can be long on a slow host. */
export const UPLOAD_SECONDS = 3600
export const PREPARE_SECONDS = 3600
/** A prepare-command or a migrate-command. */
export const RELEASE_COMMAND_SECONDS = 1800
/** An SSH round trip, beyond what a remote command waits for on the host. */
export const ROUND_TRIP_SECONDS = 30

/** How long one of the action's own remote commands may run, in seconds, by what it does. */
export const COMMAND_SECONDS = {
  /** Reading or writing a few small files: a stamp, the journal, the releases, the watchdog's arming. */
  quick: 60,
  /** Asking from the host what the service answers (one request) or what an address is. */
  ask: 30,
  /** Listing or linking a tree, or importing its module (the import check). */
  tree: 120,
  /** Walking or deleting a whole tree: clearing bytecode, pruning releases and venvs. */
  wholeTree: 300,
  /** Waiting for a host step to end (STEP_WAIT_SECONDS), then the round trip. */
  stepWait: STEP_WAIT_SECONDS + 60
}
/** Deleting old releases and venvs. */
const PRUNE_SECONDS = 600
/** What a phase may take beyond its own inputs' limits: SSH round trips, scans, log lines. */
const MARGIN_SECONDS = { connect: 30, lock: 60, restart: 180, verify: 120, rollback: 900 }

/**
 * How long each phase of a deploy may run before the action gives up on it, in seconds: the
 * user's own limits (connect-, lock-, stop-, version-timeout, stable-for) plus what the action
 * itself needs around them.
 */
export function phaseBudgets(settings: Settings) {
  const restart =
    STOP_PARTS * settings.stopTimeoutSeconds +
    AFTER_KILL_SECONDS +
    FOREGROUND_START_SECONDS +
    MARGIN_SECONDS.restart
  return {
    // Two key exchanges with a jump host.
    connect: 2 * settings.connectTimeoutSeconds + MARGIN_SECONDS.connect,
    lock: settings.lockTimeoutSeconds + MARGIN_SECONDS.lock,
    upload: UPLOAD_SECONDS,
    prepare: PREPARE_SECONDS,
    /** stop → wait-for-exit → switch → start, one host step. */
    restart,
    verify: settings.versionTimeoutSeconds + settings.stableForSeconds + MARGIN_SECONDS.verify,
    rollback:
      settings.stopTimeoutSeconds + settings.versionTimeoutSeconds + MARGIN_SECONDS.rollback,
    prune: PRUNE_SECONDS,
    /** The lock is released once a restart cut off from the action has ended on the host. */
    lockRelease: STEP_WAIT_SECONDS + MARGIN_SECONDS.lock
  }
}

import { STEP_WAIT_SECONDS } from './protocol.js'
import type { Settings } from './settings.js'

/** A stop-command and the wait for the old service's exit each get up to stop-timeout. */
const STOP_PARTS = 2
/** After SIGKILL (kill-after-timeout), how long wait-for-exit gives the kernel to reap. */
const AFTER_KILL_SECONDS = 5
/** A start-command run in the foreground (detach: false), such as `systemctl start`. */
const FOREGROUND_START_SECONDS = 1800
/** Uploading the tree, and preparing it (venv, prepare-command): both can be long on a slow host. */
const UPLOAD_SECONDS = 3600
const PREPARE_SECONDS = 3600
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

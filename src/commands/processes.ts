import SELECT_SERVICE_AWK from '../host/select-service.awk'
import SERVICE_SCRIPT from '../host/service.sh'
import { CONTROL_MARKER } from '../remote/remote.js'
import { joinCode, sh, ShellCode } from '../remote/shell.js'
import { STEP_FUNCTIONS } from '../remote/protocol.js'

/** The port holder of hold-ports carries it (hold.ts): never the service, never signalled. */
export const HOLDER_MARKER = 'VERIFIED_SSH_DEPLOY_HOLDER'

/** Names the target a process was started for; every process the action starts inherits it. */
export const TARGET_MARKER = 'DEPLOY_TARGET'

/** More process-match hits than this and stop refuses: the pattern is too broad to be the service. */
export const MAX_PATTERN_HITS = 10

/** The selection (select-service.awk) without its comments: the program goes in awk's command line. */
const SELECT_SERVICE = SELECT_SERVICE_AWK.split('\n')
  .filter(line => !line.startsWith('#'))
  .join('\n')

/**
 * The host-side functions for finding the service (service.sh, which lists them), with what they
 * need set before them: the selection's awk program and the names of the markers.
 */
export const SERVICE_FUNCTIONS = joinCode([
  STEP_FUNCTIONS,
  sh`select_service=${SELECT_SERVICE}
control_marker=${CONTROL_MARKER}
holder_marker=${HOLDER_MARKER}
target_marker=${TARGET_MARKER}`,
  new ShellCode(SERVICE_SCRIPT)
])

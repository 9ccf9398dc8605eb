import LIBRARY from '../host/library/library.sh'
import SELECT_SERVICE_AWK from '../host/library/select-service.awk'
import { CONTROL_MARKER } from './remote.js'
import { joinCode, withInputs, type ShellCode } from './shell.js'

/** The port holder of hold-ports carries it (commands/hold.ts): never the service, never signalled. */
export const HOLDER_MARKER = 'VERIFIED_SSH_DEPLOY_HOLDER'

/** Names the target a process was started for; every process the action starts inherits it. */
export const TARGET_MARKER = 'DEPLOY_TARGET'

/** The selection (select-service.awk) without its comments: the program goes in awk's command line. */
const SELECT_SERVICE = SELECT_SERVICE_AWK.split('\n')
  .filter(line => !line.startsWith('#'))
  .join('\n')

/**
 * The library as sent: without its comment lines (it goes into every script that needs it, twice
 * quoted in the watchdog's), shellcheck's directives kept for the rendered scripts' check.
 */
const LIBRARY_CODE = LIBRARY.split('\n')
  .filter(line => !line.startsWith('#') || line.startsWith('# shellcheck'))
  .join('\n')

/** The run a script journals for: the journal file (as the script names it) and the run's lock token. */
export interface JournalOf {
  file: string
  token: string
}

/**
 * The host library (library.sh: the shell functions host scripts share, one file), after the
 * values it reads: the selection's awk program, the markers' names and, for `journal`, whose
 * journal. Goes first in every script that calls one of its functions.
 */
export function hostLibrary(journal?: JournalOf): ShellCode {
  return joinCode([
    withInputs(LIBRARY_CODE, {
      select_service: SELECT_SERVICE,
      control_marker: CONTROL_MARKER,
      holder_marker: HOLDER_MARKER,
      target_marker: TARGET_MARKER
    }),
    ...(journal ? [journalFor(journal)] : [])
  ])
}

/** Whose journal `journal` writes from here on, in a script that has the library already (a host step). */
export function journalFor(journal: JournalOf): ShellCode {
  return withInputs('', { journal_file: journal.file, journal_token: journal.token })
}

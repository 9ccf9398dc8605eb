import { sh, type ShellCode } from './shell.js'
import { answersOf } from './protocol.js'

/**
 * The host's journal, `.deploy/journal`: one line per fact of each deploy (`TIME TOKEN WORDS…`:
 * armed, started, confirmed, rollback, undo, undone, released the lock), which the runner and the
 * post step read back to report what happened while they were away (see watchdog.ts).
 */

/**
 * `journal WORDS…`: appends a line to the journal at `path` (created for the deploy user only). A
 * write that fails leaves the line out (unknown), never a different fact: nothing reads a missing
 * line as a failure.
 */
export function journalFunction(path: string, token: string): ShellCode {
  return sh`journal() { (umask 077 && printf '%s %s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" ${token} "$*" 2>/dev/null >> ${path}) || :; }`
}

/** The lines of the journal at `path` for the run holding `token`, as `journal TIME WORDS…`. */
export function journalLinesScript(path: string, token: string): ShellCode {
  return sh`grep -F -- ${` ${token} `} 2>/dev/null < ${path} | while read -r time _ rest; do printf 'journal %s %s\n' "$time" "$rest"; done`
}

/** journalLinesScript's output: each line's time and words. */
export function parseJournalLines(stdout: string): { time: string; words: string }[] {
  return answersOf(stdout, 'journal').map(line => {
    const [time, ...words] = line.split(' ')
    return { time, words: words.join(' ') }
  })
}

import { answersOf } from './protocol.js'

/**
 * The host's journal, `.deploy/journal`: one line per fact of each deploy (`TIME TOKEN WORDS…`:
 * armed, started, confirmed, rollback, undo, undone, released the lock), which the runner and the
 * post step read back to report what happened while they were away (see watchdog.ts). Written by
 * `journal` (library.sh, hostLibrary): a write that fails leaves the line out (unknown), never a
 * different fact; nothing reads a missing line as a failure.
 */

/** The journal's lines (`journal_lines`, library.sh): each line's time and words. */
export function parseJournalLines(stdout: string): { time: string; words: string }[] {
  return answersOf(stdout, 'journal').map(line => {
    const [time, ...words] = line.split(' ')
    return { time, words: words.join(' ') }
  })
}

import * as core from '@actions/core'

/**
 * Text the action did not write itself (what a host prints, a start log, a service's answer, a lock
 * owner's file, a repository's file names) is data, never a workflow command. The runner reads
 * commands from the step's stdout: a line whose text, once leading white space is trimmed, starts
 * with `::`, and `##[` anywhere in a line; it splits lines at `\r` as well as `\n`. Every line of
 * outside text goes through `hostLine` before it is printed: both forms get a zero-width space
 * (U+200B, not white space to the runner) between their first two characters, so they read the
 * same to people and mean nothing to the runner.
 */
const BREAK = '\u200b'

/** Leading characters the runner's trim could remove, or that show nothing: white space, controls, format characters. */
const INVISIBLE_LEAD = /^[\s\p{Cc}\p{Cf}\p{Z}]*/u

/** One line of outside text, safe to print: no line break, no command syntax the runner acts on. */
export function hostLine(text: string): string {
  const flat = text.replace(/\r\n?|\n/g, ' ')
  const lead = INVISIBLE_LEAD.exec(flat)?.[0] ?? ''
  const rest = flat.slice(lead.length)
  const line = rest.startsWith('::') ? `${lead}:${BREAK}${rest.slice(1)}` : flat
  return line.replace(/##\[/g, `#${BREAK}#[`)
}

/** Outside text of any number of lines, each made safe by hostLine. */
export function hostLines(text: string): string[] {
  return text.split(/\r\n?|\n/).map(hostLine)
}

/**
 * The action's one way to print a log line: every line goes through hostLine, whether the text is
 * the action's own or carries a host's, a service's or a repository's words, so no call site has
 * to know which it is. (core.warning, core.error and core.notice send their text as a command's
 * data, which @actions/core escapes: it cannot start a command of its own.)
 */
export function info(text: string): void {
  for (const line of hostLines(text)) core.info(line)
}

/**
 * Reads a step's stdout the way the GitHub runner does for workflow commands: lines split at
 * `\r\n`, `\r` or `\n`; a line whose text, trimmed of leading white space, starts with `::` is a
 * command, and so is any line holding `##[`; `::stop-commands::TOKEN` turns both off until a line
 * `::TOKEN::`. Returns every line the runner would act on, so a test can assert that none carries
 * text from outside the action.
 */
export function runnerCommands(stdout: string): string[] {
  const commands: string[] = []
  let stopToken: string | undefined
  for (const line of stdout.split(/\r\n|\r|\n/)) {
    // .NET's TrimStart: every character char.IsWhiteSpace calls white space.
    const trimmed = line.replace(/^[\s\u0085]+/u, '')
    if (stopToken !== undefined) {
      if (trimmed === `::${stopToken}::`) stopToken = undefined
      continue
    }
    if (trimmed.startsWith('::')) {
      commands.push(trimmed)
      const stop = /^::stop-commands::(.+)$/.exec(trimmed)
      if (stop) stopToken = stop[1]
    } else if (line.includes('##[')) commands.push(line)
  }
  return commands
}

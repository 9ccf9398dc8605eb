/**
 * Two readers of an env file, written after their documented rules, for the tests: python-dotenv's
 * (single quotes literal; double quotes undo \\ and \" escapes) and systemd's EnvironmentFile=
 * (single quotes literal; double quotes undo a backslash before any character).
 */
function parseWith(
  text: string,
  unescape: RegExp,
  bare: (raw: string) => string
): Record<string, string> {
  const values: Record<string, string> = {}
  for (const line of text.split('\n').filter(Boolean)) {
    const [, key, raw] = /^([A-Za-z_]\w*)=(.*)$/.exec(line) ?? []
    if (!key) throw new Error(`not an env file line: ${line}`)
    if (/^'.*'$/.test(raw)) values[key] = raw.slice(1, -1)
    else if (/^".*"$/.test(raw)) values[key] = raw.slice(1, -1).replace(unescape, '$1')
    else values[key] = bare(raw)
  }
  return values
}

export const parseDotenv = (text: string) => parseWith(text, /\\([\\'"])/g, raw => raw)

export const parseSystemdEnvironmentFile = (text: string) =>
  parseWith(text, /\\(.)/g, raw => raw.trim())

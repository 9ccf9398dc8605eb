/**
 * Two readers of an env file, written after their documented rules, for the tests: python-dotenv's
 * (single quotes literal; double quotes undo \\ and \" escapes) and systemd's EnvironmentFile=
 * (single quotes literal; double quotes undo a backslash before any character).
 */
export function parseDotenv(text: string): Record<string, string> {
  const values: Record<string, string> = {}
  for (const line of text.split('\n').filter(Boolean)) {
    const [, key, raw] = /^([A-Za-z_]\w*)=(.*)$/.exec(line) ?? []
    if (!key) throw new Error(`not a dotenv line: ${line}`)
    if (/^'.*'$/.test(raw)) values[key] = raw.slice(1, -1)
    else if (/^".*"$/.test(raw)) values[key] = raw.slice(1, -1).replace(/\\([\\'"])/g, '$1')
    else values[key] = raw
  }
  return values
}

export function parseSystemdEnvironmentFile(text: string): Record<string, string> {
  const values: Record<string, string> = {}
  for (const line of text.split('\n').filter(Boolean)) {
    const [, key, raw] = /^([A-Za-z_]\w*)=(.*)$/.exec(line) ?? []
    if (!key) throw new Error(`not an EnvironmentFile line: ${line}`)
    if (/^'.*'$/.test(raw)) values[key] = raw.slice(1, -1)
    else if (/^".*"$/.test(raw)) values[key] = raw.slice(1, -1).replace(/\\(.)/g, '$1')
    else values[key] = raw.trim()
  }
  return values
}

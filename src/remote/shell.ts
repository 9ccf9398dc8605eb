/**
 * The one place remote shell text is built. Every value that reaches a remote command passes
 * through `quote`, so paths and values with spaces, quotes, `$(…)` or newlines stay data.
 */

/** Text already valid as shell code (built by `sh` or a fixed snippet); spliced in unquoted. */
export class ShellCode {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text
  }
}

/** POSIX single-quoting: the only character that needs care inside '…' is ' itself. */
export function quote(value: string): string {
  if (value.includes('\0')) throw new Error('a NUL byte cannot be passed to a remote command')
  return `'${value.replace(/'/g, `'\\''`)}'`
}

type ShellValue = string | number | ShellCode | readonly (string | number | ShellCode)[]

function render(value: ShellValue): string {
  if (value instanceof ShellCode) return value.text
  // A finite number has no shell metacharacters; unquoted it also works inside $(( )).
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`not a finite number: ${value}`)
    return String(value)
  }
  if (typeof value === 'string') return quote(value)
  return value.map(render).join(' ')
}

/** A literal part as written, so `\(`, `\n` and `\0` reach the shell; only `\${` and `\`` are JS escapes. */
function literal(raw: string): string {
  return raw.replace(/\\(\$\{|`)/g, '$1')
}

/**
 * Template tag for remote commands: the literal parts are shell code taken raw, every `${value}` is
 * quoted (arrays become several quoted words; `ShellCode` is spliced as is).
 */
export function sh(literals: TemplateStringsArray, ...values: ShellValue[]): ShellCode {
  let text = literal(literals.raw[0])
  values.forEach((value, index) => {
    text += render(value) + literal(literals.raw[index + 1])
  })
  return new ShellCode(text)
}

/**
 * The most a script passed in an environment variable may hold: Linux limits one variable to
 * 128 KiB (MAX_ARG_STRLEN), name included.
 */
export const MAX_ENVIRONMENT_SCRIPT = 120 * 1024

/**
 * A script for the host library's exec_script (library.sh), which runs it from an environment
 * variable, never a command line: refused here when one variable could not carry it.
 */
export function environmentScript(script: string): string {
  if (Buffer.byteLength(script) > MAX_ENVIRONMENT_SCRIPT) {
    throw new Error(
      `a host script of ${Buffer.byteLength(script)} bytes is over the ${MAX_ENVIRONMENT_SCRIPT} bytes one environment variable can carry`
    )
  }
  return script
}

/**
 * A host script kept as a file (src/host), after its inputs: one `name=value` line each, the value
 * quoted (a boolean: `1` or empty; a list: one space-separated word). The file names its inputs in its first command, so shellcheck
 * knows them and a missing one fails at once.
 */
export function withInputs(
  script: string,
  inputs: Record<string, string | number | boolean | readonly (string | number)[]>
): ShellCode {
  // Names are literals of the code (lower-case shell names); a list is one word, space-separated.
  const lines = Object.entries(inputs).map(([name, value]) => {
    const text =
      typeof value === 'boolean'
        ? value
          ? '1'
          : "''"
        : typeof value === 'object'
          ? quote(value.join(' '))
          : render(value)
    return `${name}=${text}`
  })
  return new ShellCode([...lines, script].join('\n'))
}

/** Joins already-built commands into one script. */
export function joinCode(codes: readonly ShellCode[], separator = '\n'): ShellCode {
  return new ShellCode(codes.map(code => code.text).join(separator))
}

import * as core from '@actions/core'

/*
 * Reading the action's inputs: raw text, defaults, and the problems found, collected so that one
 * run reports them all. What each input means is input-fields.ts and settings.ts.
 */

/** Defaults shared with action.yml (a test keeps the two equal). */
export const INPUT_DEFAULTS: Record<string, string> = {
  port: '22',
  'insecure-skip-host-key-check': 'false',
  'connect-timeout': '30',
  source: '.',
  strategy: 'releases',
  'keep-releases': '5',
  'stamp-file': 'REVISION',
  'clear-pycache': 'true',
  python: 'python3',
  'stop-timeout': '30',
  'kill-after-timeout': 'true',
  detach: 'true',
  'version-check-from': 'host',
  'version-timeout': '120',
  'stable-for': '5',
  'allow-downgrade': 'true',
  'rollback-on-failure': 'true',
  'hold-ports': 'false',
  overlap: 'false',
  'lock-timeout': '300',
  'max-parallel': '1',
  'dry-run': 'false',
  operation: 'deploy',
  'connect-retries': '2'
}

/** Thrown when inputs are invalid; lists every problem so one run shows them all. */
export class InputError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `Invalid input${problems.length > 1 ? 's' : ''} (nothing was changed on any host):\n` +
        problems.map(problem => `  - ${problem}`).join('\n')
    )
    this.name = 'InputError'
  }
}

/** A problem with input `name`, as InputError lists it; `shown` is the offending value, omitted for secrets. */
export function problemText(name: string, shown: string | undefined, fix: string): string {
  const value =
    shown === undefined ? '' : ` is '${shown.length > 80 ? shown.slice(0, 77) + '...' : shown}'`
  return `${name}${value}: ${fix}`
}

/** Reads raw inputs and collects problems instead of stopping at the first one. */
export class InputReader {
  readonly problems: string[] = []

  constructor(private readonly read: (name: string) => string) {}

  text(name: string): string {
    const value = this.read(name).trim()
    return value === '' ? (INPUT_DEFAULTS[name] ?? '') : value
  }

  optional(name: string): string | undefined {
    return this.text(name) || undefined
  }

  /** A problem with input `name`; `shown` is the offending value, omitted for secrets. */
  problem(name: string, shown: string | undefined, fix: string): void {
    this.problems.push(problemText(name, shown, fix))
  }

  required(name: string, fix: string): string {
    const value = this.text(name)
    if (!value) this.problems.push(`${name} is required: ${fix}`)
    return value
  }

  integer(name: string, min: number, max: number): number {
    const value = this.text(name)
    const number = Number(value)
    if (!/^-?\d+$/.test(value) || number < min || number > max) {
      this.problem(name, value, `use a whole number from ${min} to ${max}`)
      return Number(INPUT_DEFAULTS[name] ?? min)
    }
    return number
  }

  boolean(name: string): boolean {
    const value = this.text(name)
    if (/^(true|yes|on)$/i.test(value)) return true
    if (/^(false|no|off)$/i.test(value)) return false
    this.problem(name, value, "use 'true' or 'false'")
    return INPUT_DEFAULTS[name] === 'true'
  }

  choice<T extends string>(name: string, choices: readonly T[]): T {
    const value = this.text(name)
    if ((choices as readonly string[]).includes(value)) return value as T
    this.problem(name, value, `use one of ${choices.map(choice => `'${choice}'`).join(', ')}`)
    return choices[0]
  }

  /** Newline-separated list; blank lines and `#` comments are skipped. */
  lines(name: string): string[] {
    return this.text(name)
      .split(/\r?\n/)
      .map(line => line.trim())
      .filter(line => line && !line.startsWith('#'))
  }
}

/** Registers every secret with the runner before anything else can print it. */
export function maskSecrets(read: (name: string) => string): void {
  for (const name of ['private-key', 'passphrase', 'password']) {
    const value = read(name)
    if (!value.trim()) continue
    core.setSecret(value)
    core.setSecret(value.trim())
    // The runner masks line by line, so each line of a multi-line key is registered too.
    for (const line of value.split(/\r?\n/)) {
      if (line.trim().length >= 8 && !line.includes('-----')) core.setSecret(line.trim())
    }
  }
}

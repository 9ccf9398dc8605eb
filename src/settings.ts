import * as core from '@actions/core'
import { statSync } from 'node:fs'
import { join } from 'node:path'
import semver from 'semver'
import { parseHostAddress, type HostAddress } from './host-address.js'
import { parseKnownHosts, type HostKeyPolicy } from './host-key.js'
import { parsePrivateKey, type PrivateKey } from './private-key.js'
import { quote } from './shell.js'

export type Strategy = 'releases' | 'in-place'
export type VersionCheckFrom = 'host' | 'runner'

/** Every input of the action, parsed and validated once. */
export interface Settings {
  hosts: HostAddress[]
  privateKey?: PrivateKey
  passphrase?: string
  password?: string
  hostKeys: HostKeyPolicy
  jumpHost?: HostAddress
  connectTimeoutSeconds: number
  source: string
  target: string
  strategy: Strategy
  keepReleases: number
  exclude: string[]
  sharedPaths: string[]
  sha?: string
  stampFile: string
  clearPycache: boolean
  prepareCommand?: string
  pythonImportCheck?: string
  python: string
  /** Dependency files (relative to source) that key the managed venv; empty: no venv. */
  pythonRequirements: string[]
  /** Installs them into a new venv (set whenever pythonRequirements is). */
  pythonInstallCommand?: string
  stopCommand?: string
  processMatch?: string
  ports: number[]
  stopTimeoutSeconds: number
  killAfterTimeout: boolean
  startCommand: string
  detach: boolean
  startLog?: string
  env: [string, string][]
  versionUrl: URL
  versionCheckFrom: VersionCheckFrom
  versionField?: string
  versionTimeoutSeconds: number
  stableForSeconds: number
  versionRange?: string
  allowDowngrade: boolean
  rollbackOnFailure: boolean
  lockTimeoutSeconds: number
  maxParallel: number
  dryRun: boolean
  /** Set: the deploy is recorded as a GitHub deployment to this environment. */
  environment?: string
  /** As given (validated as an http(s) URL). */
  environmentUrl?: string
  githubToken?: string
}

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
  'lock-timeout': '300',
  'max-parallel': '1',
  'dry-run': 'false'
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

/** Reads raw inputs and collects problems instead of stopping at the first one. */
class InputReader {
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
    const value =
      shown === undefined ? '' : ` is '${shown.length > 80 ? shown.slice(0, 77) + '...' : shown}'`
    this.problems.push(`${name}${value}: ${fix}`)
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
function maskSecrets(read: (name: string) => string): void {
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

function remotePath(reader: InputReader, name: string, value: string): string {
  const path = value.replace(/\/+/g, '/').replace(/(.)\/$/, '$1')
  const fix =
    'use an absolute path on the host such as /srv/app or ~/app (not /, not a home directory itself, no . or .. parts)'
  if (!path.startsWith('/') && !path.startsWith('~/')) {
    reader.problem(name, value, fix)
  } else if (
    path === '/' ||
    path === '~/' ||
    path.split('/').some(part => part === '.' || part === '..')
  ) {
    reader.problem(name, value, fix)
  } else if (/[\0\n\r]/.test(path)) {
    reader.problem(name, value, 'remove the line break or NUL character from the path')
  }
  return path
}

function relativePath(reader: InputReader, name: string, value: string): string {
  const path = value.replace(/\/+/g, '/').replace(/\/$/, '')
  if (!path || path.startsWith('/') || path.startsWith('~') || path.split('/').includes('..')) {
    reader.problem(name, value, 'use a path relative to the release, without .. parts')
  }
  return path
}

/** python-requirements and python-install-command (README, "Python dependencies"). */
function parsePythonEnvironment(
  reader: InputReader,
  source: string,
  sharedPaths: string[]
): Pick<Settings, 'pythonRequirements' | 'pythonInstallCommand'> {
  const pythonRequirements = reader
    .lines('python-requirements')
    .map(path => relativePath(reader, 'python-requirements', path))
  const given = reader.optional('python-install-command')
  if (pythonRequirements.length === 0) return { pythonRequirements }
  for (const path of pythonRequirements) {
    if (!statSync(join(source, path), { throwIfNoEntry: false })?.isFile()) {
      reader.problem(
        'python-requirements',
        path,
        `no such file in source (${source}); list the repository's dependency files, e.g. requirements.txt`
      )
    }
  }
  if (sharedPaths.includes('.venv')) {
    reader.problem(
      'shared-paths',
      '.venv',
      'python-requirements gives each release its own .venv (a link to its environment in .deploy/venvs); remove .venv from shared-paths'
    )
  }
  const lists = pythonRequirements.filter(path => path.endsWith('.txt'))
  if (given) return { pythonRequirements, pythonInstallCommand: given }
  if (lists.length === 0) {
    reader.problem(
      'python-install-command',
      undefined,
      `set it: python-requirements lists no .txt file for 'pip install -r'. For a pyproject.toml project, e.g. 'uv pip install -r pyproject.toml', or export a requirements.txt in the workflow`
    )
  }
  return {
    pythonRequirements,
    pythonInstallCommand: `pip install ${lists.map(path => `-r ${quote(path)}`).join(' ')}`
  }
}

/** environment, environment-url and github-token (README, "GitHub deployments"). */
function parseGitHubDeployment(
  reader: InputReader
): Pick<Settings, 'environment' | 'environmentUrl' | 'githubToken'> {
  const githubToken = reader.optional('github-token')
  if (githubToken) core.setSecret(githubToken)
  const environment = reader.optional('environment')
  const urlText = reader.optional('environment-url')
  let environmentUrl: string | undefined
  if (urlText) {
    try {
      // Checked as a URL, sent as written: URL.href would add a `/` to a bare host.
      if (!['http:', 'https:'].includes(new URL(urlText).protocol)) throw new Error('not http')
      environmentUrl = urlText
    } catch {
      reader.problem(
        'environment-url',
        urlText,
        'use an http:// or https:// URL, e.g. https://app.example.com'
      )
    }
  }
  if (environment && !githubToken) {
    reader.problem(
      'github-token',
      undefined,
      'empty while environment is set: leave it at its default (the job token) or pass a token with deployments: write'
    )
  }
  return { environment, environmentUrl, githubToken }
}

function parseHosts(reader: InputReader): HostAddress[] {
  const username = reader.text('username')
  const port = reader.integer('port', 1, 65535)
  const entries = reader
    .required(
      'host',
      'set host to the server name or address, e.g. deploy.example.com or 203.0.113.7:2222'
    )
    .split(/[\n,]/)
    .map(entry => entry.trim())
    .filter(Boolean)
  const hosts: HostAddress[] = []
  for (const entry of entries) {
    const parsed = parseHostAddress(entry, { port, username })
    if (typeof parsed === 'string') reader.problem('host', undefined, parsed)
    else hosts.push(parsed)
  }
  return hosts
}

function parseEnv(reader: InputReader): [string, string][] {
  const env: [string, string][] = []
  for (const line of reader.lines('env')) {
    const equals = line.indexOf('=')
    const key = equals > 0 ? line.slice(0, equals).trim() : ''
    if (equals < 0) {
      reader.problem('env', line, 'each line must be KEY=VALUE')
    } else if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
      reader.problem(
        'env',
        line,
        'the name before = must be letters, digits and _, not starting with a digit'
      )
    } else {
      env.push([key, line.slice(equals + 1)])
    }
  }
  return env
}

function parseVersionUrl(reader: InputReader): URL {
  const text = reader.required(
    'version-url',
    "set it to the service's version endpoint, e.g. http://127.0.0.1:7861/version"
  )
  try {
    const url = new URL(text)
    if (url.protocol === 'http:' || url.protocol === 'https:') return url
  } catch {
    // reported below
  }
  if (text)
    reader.problem(
      'version-url',
      text,
      'use an http:// or https:// URL, e.g. http://127.0.0.1:7861/version'
    )
  return new URL('http://127.0.0.1/')
}

function parseHostKeys(reader: InputReader): HostKeyPolicy {
  const { entries, problems } = parseKnownHosts(reader.text('known-hosts'))
  for (const problem of problems) reader.problem('known-hosts', undefined, problem)
  const fingerprints: string[] = []
  for (const value of reader
    .text('host-fingerprint')
    .split(/[\s,]+/)
    .filter(Boolean)) {
    if (/^SHA256:[A-Za-z0-9+/]{43}=?$/.test(value)) fingerprints.push(value.replace(/=$/, ''))
    else {
      reader.problem(
        'host-fingerprint',
        value,
        "use the SHA256 form printed by 'ssh-keygen -lf <(ssh-keyscan HOST)', e.g. SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8"
      )
    }
  }
  return {
    knownHosts: entries,
    fingerprints,
    insecureSkip: reader.boolean('insecure-skip-host-key-check')
  }
}

function parseAuth(reader: InputReader): Pick<Settings, 'privateKey' | 'passphrase' | 'password'> {
  const keyText = reader.optional('private-key')
  const passphrase = reader.optional('passphrase')
  const password = reader.optional('password')
  let privateKey: PrivateKey | undefined
  if (keyText) {
    const parsed = parsePrivateKey(keyText, passphrase)
    if (typeof parsed === 'string') reader.problem('private-key', undefined, parsed)
    else privateKey = parsed
  }
  if (!keyText && !password) {
    reader.problems.push(
      'private-key or password is required: set private-key to a secret holding the deploy key, e.g. private-key: ${{ secrets.DEPLOY_KEY }}'
    )
  }
  return { privateKey, passphrase, password }
}

/** Reads every input; throws InputError listing all problems. */
export function getSettings(
  read: (name: string) => string = name => core.getInput(name)
): Settings {
  maskSecrets(read)
  const reader = new InputReader(read)
  const hosts = parseHosts(reader)
  const auth = parseAuth(reader)
  const hostKeys = parseHostKeys(reader)
  const jumpText = reader.optional('jump-host')
  let jumpHost: HostAddress | undefined
  if (jumpText) {
    const parsed = parseHostAddress(jumpText, { port: 22, username: reader.text('username') })
    if (typeof parsed === 'string')
      reader.problem('jump-host', undefined, `${parsed}; write user@host:port`)
    else jumpHost = parsed
  }
  const source = reader.text('source')
  if (!statSync(source, { throwIfNoEntry: false })?.isDirectory()) {
    reader.problem(
      'source',
      source,
      'no such directory on the runner; check out the code first (actions/checkout) or fix the path'
    )
  }
  const targetText = reader.required(
    'target',
    'set it to the absolute directory on the host, e.g. /srv/myapp'
  )
  const target = targetText ? remotePath(reader, 'target', targetText) : ''
  const startLogText = reader.optional('start-log')
  const sha = reader.optional('sha')
  if (sha && !/^([0-9a-f]{40}|[0-9a-f]{64})$/i.test(sha)) {
    reader.problem(
      'sha',
      sha,
      "use the full commit SHA (40 hex characters), e.g. ${{ github.sha }}, or leave it unset to use HEAD of 'source'"
    )
  }
  const pythonImportCheck = reader.optional('python-import-check')
  if (pythonImportCheck && !/^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$/.test(pythonImportCheck)) {
    reader.problem(
      'python-import-check',
      pythonImportCheck,
      'use a Python module name such as chatchat or myapp.server'
    )
  }
  const sharedPaths = reader
    .lines('shared-paths')
    .map(path => relativePath(reader, 'shared-paths', path))
  const python = parsePythonEnvironment(reader, source, sharedPaths)
  const ports = reader
    .text('ports')
    .split(/[\s,]+/)
    .filter(Boolean)
    .map(text => {
      const port = /^\d{1,5}$/.test(text) ? Number(text) : 0
      if (port < 1 || port > 65535)
        reader.problem(
          'ports',
          text,
          'use comma-separated port numbers from 1 to 65535, e.g. 7861,8501'
        )
      return port
    })
  const processMatch = reader.optional('process-match')
  if (processMatch && /[\r\n]/.test(processMatch)) {
    reader.problem(
      'process-match',
      processMatch.split(/[\r\n]/)[0],
      'use one line: the pattern is one extended regular expression matched against each command line, as pgrep -f does. Write one that matches the service only, e.g. "myapp serve --port 8000"'
    )
  }
  const versionField = reader.optional('version-field')
  if (versionField && versionField.split('.').some(part => !part)) {
    reader.problem(
      'version-field',
      versionField,
      'use a dot path into the JSON body, e.g. commit or build.sha'
    )
  }
  const versionRange = reader.optional('version-range')
  if (versionRange && semver.validRange(versionRange) === null) {
    reader.problem('version-range', versionRange, 'use a semver range such as ">=1.2.0 <2"')
  }
  const settings: Settings = {
    hosts,
    ...auth,
    hostKeys,
    jumpHost,
    connectTimeoutSeconds: reader.integer('connect-timeout', 1, 600),
    source,
    target,
    strategy: reader.choice<Strategy>('strategy', ['releases', 'in-place']),
    keepReleases: reader.integer('keep-releases', 1, 1000),
    exclude: reader.lines('exclude'),
    sharedPaths,
    sha: sha?.toLowerCase(),
    stampFile: relativePath(reader, 'stamp-file', reader.text('stamp-file')),
    clearPycache: reader.boolean('clear-pycache'),
    prepareCommand: reader.optional('prepare-command'),
    pythonImportCheck,
    python: reader.text('python'),
    ...python,
    stopCommand: reader.optional('stop-command'),
    processMatch,
    ports,
    stopTimeoutSeconds: reader.integer('stop-timeout', 1, 3600),
    killAfterTimeout: reader.boolean('kill-after-timeout'),
    startCommand: reader.required(
      'start-command',
      'set the command that starts the service, e.g. python -m myapp serve'
    ),
    detach: reader.boolean('detach'),
    startLog: startLogText ? remotePath(reader, 'start-log', startLogText) : undefined,
    env: parseEnv(reader),
    versionUrl: parseVersionUrl(reader),
    versionCheckFrom: reader.choice<VersionCheckFrom>('version-check-from', ['host', 'runner']),
    versionField,
    versionTimeoutSeconds: reader.integer('version-timeout', 1, 3600),
    stableForSeconds: reader.integer('stable-for', 0, 3600),
    versionRange,
    allowDowngrade: reader.boolean('allow-downgrade'),
    rollbackOnFailure: reader.boolean('rollback-on-failure'),
    lockTimeoutSeconds: reader.integer('lock-timeout', 0, 86400),
    maxParallel: reader.integer('max-parallel', 1, 100),
    dryRun: reader.boolean('dry-run'),
    ...parseGitHubDeployment(reader)
  }
  if (reader.problems.length > 0) throw new InputError(reader.problems)
  return settings
}

import * as core from '@actions/core'
import semver from 'semver'
import { parseHostAddress, type HostAddress } from './host-address.js'
import type { HostKeyPolicy } from '../remote/host-key.js'
import {
  parseAuth,
  parseEnv,
  parseGitHubDeployment,
  parseHostKeys,
  parseHosts,
  parsePorts,
  parsePythonEnvironment,
  parseVersionUrl,
  relativePath,
  remotePath
} from './input-fields.js'
import { InputError, InputReader, maskSecrets } from './inputs.js'
import type { PrivateKey } from './private-key.js'
import { runnerProblems } from './runner-checks.js'

export type Strategy = 'releases' | 'in-place'
/** What a run does to each host (DESIGN, "Operations"). */
export type Operation = 'deploy' | 'rollback' | 'restart' | 'verify'
export const OPERATIONS_NAMES: readonly Operation[] = ['deploy', 'rollback', 'restart', 'verify']
export type VersionCheckFrom = 'host' | 'runner'

/** Every input of the action, parsed and validated once. */
export interface Settings {
  operation: Operation
  /** With operation rollback: a release name or a commit (prefix) of a kept release. */
  rollbackTo?: string
  hosts: HostAddress[]
  privateKey?: PrivateKey
  passphrase?: string
  password?: string
  hostKeys: HostKeyPolicy
  jumpHost?: HostAddress
  /** Run on the runner; its stdin/stdout is the connection to the host (OpenSSH ProxyCommand). */
  proxyCommand?: string
  /** Retries of a connection that fails before authentication. */
  connectRetries: number
  connectTimeoutSeconds: number
  source: string
  target: string
  strategy: Strategy
  keepReleases: number
  exclude: string[]
  sharedPaths: string[]
  /** The shared paths written with a trailing `/`: created as empty directories when missing. */
  sharedDirs: string[]
  sha?: string
  stampFile: string
  clearPycache: boolean
  prepareCommand?: string
  /** Database migrations, run in the new release after prepare, before anything stops. */
  migrateCommand?: string
  pythonImportCheck?: string
  python: string
  /** Dependency files (relative to source) that key the managed venv; empty: no venv. */
  pythonRequirements: string[]
  /** The user's command that installs them into a new venv (default: venv.ts's installCommand). */
  pythonInstallCommand?: string
  stopCommand?: string
  processMatch?: string
  ports: number[]
  /** `ADDRESS:PORT` for each of `ports`, in order: where the port holder listens (hold-ports). */
  listen: string[]
  /** Keep `ports` listening across restarts and hand them to the start as fds 3, 4, … */
  holdPorts: boolean
  /** hold-ports: start the new release before the old one stops (README, "Overlap"). */
  overlap: boolean
  stopTimeoutSeconds: number
  killAfterTimeout: boolean
  startCommand: string
  detach: boolean
  startLog?: string
  env: [string, string][]
  /** Where `env` is written as KEY=VALUE lines (0600) in the release, before prepare. */
  envFile?: string
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
  const sharedLines = reader.lines('shared-paths')
  const sharedPaths = sharedLines.map(path => relativePath(reader, 'shared-paths', path))
  // Written with a trailing /: a directory the action creates when neither side has it.
  const sharedDirs = sharedPaths.filter((_, index) => sharedLines[index].trim().endsWith('/'))
  const python = parsePythonEnvironment(reader, sharedPaths)
  const { ports, listen } = parsePorts(reader)
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
  const operation = reader.choice<Operation>('operation', OPERATIONS_NAMES)
  const rollbackTo = reader.optional('rollback-to')
  if (rollbackTo && operation !== 'rollback')
    reader.problem(
      'rollback-to',
      rollbackTo,
      `it only applies with operation: rollback (operation is '${operation}'); set operation: rollback, or leave rollback-to empty`
    )
  if (rollbackTo && !/^(\d{8}T\d{6}Z-[0-9a-f]{7}(-\d+)?|[0-9a-fA-F]{7,40})$/.test(rollbackTo))
    reader.problem(
      'rollback-to',
      rollbackTo,
      'use a release name as the action makes them (20261124T101500Z-1a2b3c4, as the release output and the summary show it) or a commit of 7 to 40 hex characters'
    )
  const proxyCommand = reader.optional('proxy-command')
  if (proxyCommand && jumpHost)
    reader.problem(
      'proxy-command',
      proxyCommand,
      'set it or jump-host, not both: a proxy command that reaches the host through the bastion is `ssh -W %h:%p user@bastion`'
    )
  const envFileText = reader.optional('env-file')
  const env = parseEnv(reader)
  if (envFileText)
    for (const [key, value] of env)
      if (value.includes("'") && value.includes('${'))
        reader.problem(
          'env',
          key,
          "with env-file, a value may hold ' or ${ but not both: no quoting keeps both literal for python-dotenv and systemd alike"
        )
  const settings: Settings = {
    operation,
    rollbackTo,
    hosts,
    ...auth,
    hostKeys,
    jumpHost,
    proxyCommand,
    connectRetries: reader.integer('connect-retries', 0, 10),
    connectTimeoutSeconds: reader.integer('connect-timeout', 1, 600),
    source,
    target,
    strategy: reader.choice<Strategy>('strategy', ['releases', 'in-place']),
    keepReleases: reader.integer('keep-releases', 1, 1000),
    exclude: reader.lines('exclude'),
    sharedPaths,
    sharedDirs,
    sha: sha?.toLowerCase(),
    stampFile: relativePath(reader, 'stamp-file', reader.text('stamp-file')),
    clearPycache: reader.boolean('clear-pycache'),
    prepareCommand: reader.optional('prepare-command'),
    migrateCommand: reader.optional('migrate-command'),
    pythonImportCheck,
    python: reader.text('python'),
    ...python,
    stopCommand: reader.optional('stop-command'),
    processMatch,
    ports,
    listen,
    holdPorts: reader.boolean('hold-ports'),
    overlap: reader.boolean('overlap'),
    stopTimeoutSeconds: reader.integer('stop-timeout', 1, 3600),
    killAfterTimeout: reader.boolean('kill-after-timeout'),
    // A drift check starts nothing.
    startCommand:
      operation === 'verify'
        ? (reader.optional('start-command') ?? '')
        : reader.required(
            'start-command',
            'set the command that starts the service, e.g. python -m myapp serve'
          ),
    detach: reader.boolean('detach'),
    startLog: startLogText ? remotePath(reader, 'start-log', startLogText) : undefined,
    env,
    envFile: envFileText ? relativePath(reader, 'env-file', envFileText) : undefined,
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
  if (settings.holdPorts && ports.length === 0) {
    reader.problem(
      'hold-ports',
      'true',
      'set ports too: they are what the holder keeps listening, e.g. ports: 8000'
    )
  }
  if (settings.holdPorts && !settings.detach) {
    reader.problem(
      'hold-ports',
      'true',
      'it needs detach: true: a foreground start (systemctl start …) cannot inherit sockets from the action; use a systemd socket unit instead'
    )
  }
  if (settings.overlap && !settings.holdPorts) {
    reader.problem(
      'overlap',
      'true',
      'it needs hold-ports: true: the new release starts on the sockets the holder keeps listening while the old one still serves them; set hold-ports: true (and ports), or overlap: false'
    )
  }
  if (settings.overlap && settings.strategy !== 'releases') {
    reader.problem(
      'overlap',
      'true',
      'it needs strategy: releases: in place, the new files would replace the old ones under the service still running, and a failed release could not be undone by switching back; set strategy: releases, or overlap: false'
    )
  }
  if (operation === 'rollback' && settings.strategy !== 'releases')
    reader.problem(
      'operation',
      'rollback',
      'it needs strategy: releases (in place there is no earlier release on the host); redeploy the earlier commit with operation: deploy instead'
    )
  // Only a deploy ships anything: the others need no checkout.
  const problems = [...reader.problems, ...(operation === 'deploy' ? runnerProblems(settings) : [])]
  if (problems.length > 0) throw new InputError(problems)
  return settings
}

import * as core from '@actions/core'
import { parseHostAddress, type HostAddress } from './host-address.js'
import { parseKnownHosts, type HostKeyPolicy } from '../remote/host-key.js'
import type { InputReader } from './inputs.js'
import { parsePrivateKey, type PrivateKey } from './private-key.js'

/*
 * One function per input (or group of inputs): checks its form, converts it, and reports what is
 * wrong with it to the reader. Nothing here reads files or builds shell.
 */

export function remotePath(reader: InputReader, name: string, value: string): string {
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

export function relativePath(reader: InputReader, name: string, value: string): string {
  const path = value.replace(/\/+/g, '/').replace(/\/$/, '')
  if (!path || path.startsWith('/') || path.startsWith('~') || path.split('/').includes('..')) {
    reader.problem(name, value, 'use a path relative to the release, without .. parts')
  }
  return path
}

/**
 * python-requirements and python-install-command (README, "Python dependencies"); that the files
 * exist in source is checked on the runner (runner-checks.ts), the default command is venv.ts's.
 */
export function parsePythonEnvironment(
  reader: InputReader,
  sharedPaths: string[]
): { pythonRequirements: string[]; pythonInstallCommand?: string } {
  const pythonRequirements = reader
    .lines('python-requirements')
    .map(path => relativePath(reader, 'python-requirements', path))
  const given = reader.optional('python-install-command')
  if (pythonRequirements.length === 0) return { pythonRequirements }
  if (sharedPaths.includes('.venv')) {
    reader.problem(
      'shared-paths',
      '.venv',
      'python-requirements gives each release its own .venv (a link to its environment in .deploy/venvs); remove .venv from shared-paths'
    )
  }
  if (!given && !pythonRequirements.some(path => path.endsWith('.txt'))) {
    reader.problem(
      'python-install-command',
      undefined,
      `set it: python-requirements lists no .txt file for 'pip install -r'. For a pyproject.toml project, e.g. 'uv pip install -r pyproject.toml', or export a requirements.txt in the workflow`
    )
  }
  return { pythonRequirements, pythonInstallCommand: given }
}

/** environment, environment-url and github-token (README, "GitHub deployments"). */
export function parseGitHubDeployment(reader: InputReader): {
  environment?: string
  environmentUrl?: string
  githubToken?: string
} {
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

export function parseHosts(reader: InputReader): HostAddress[] {
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

export function parseEnv(reader: InputReader): [string, string][] {
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

export function parseVersionUrl(reader: InputReader): URL {
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

export function parseHostKeys(reader: InputReader): HostKeyPolicy {
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

export function parseAuth(reader: InputReader): {
  privateKey?: PrivateKey
  passphrase?: string
  password?: string
} {
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

/**
 * ports: `PORT` or `ADDRESS:PORT` (IPv4, or IPv6 in brackets), comma- or space-separated. The
 * address only says where the port holder listens (hold-ports); a bare port is held on
 * 127.0.0.1, as gunicorn and uvicorn bind by default.
 */
export function parsePorts(reader: InputReader): { ports: number[]; listen: string[] } {
  const ports: number[] = []
  const listen: string[] = []
  for (const text of reader
    .text('ports')
    .split(/[\s,]+/)
    .filter(Boolean)) {
    const [, address = '127.0.0.1', digits] =
      /^(?:(\d{1,3}(?:\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\]):)?(\d{1,5})$/.exec(text) ?? []
    const port = digits ? Number(digits) : 0
    if (port < 1 || port > 65535) {
      reader.problem(
        'ports',
        text,
        'use comma-separated port numbers from 1 to 65535, e.g. 7861,8501 (with hold-ports, ADDRESS:PORT says where to listen, e.g. 0.0.0.0:8000)'
      )
    }
    ports.push(port)
    listen.push(`${address}:${port}`)
  }
  return { ports, listen }
}

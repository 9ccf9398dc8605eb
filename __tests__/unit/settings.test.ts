import { beforeAll, describe, expect, it, jest } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse } from 'yaml'
import { PROJECT_ROOT } from '../support/action.js'
import { inputReader, sourceTree, TEST_SHA } from '../support/fixtures.js'

const setSecret = jest.fn<(value: string) => void>()
jest.unstable_mockModule('@actions/core', () => ({
  setSecret,
  getInput: () => '',
  info: () => undefined,
  warning: () => undefined,
  debug: () => undefined
}))
const { getSettings } = await import('../../src/inputs/settings.js')
const { InputError, INPUT_DEFAULTS } = await import('../../src/inputs/inputs.js')
const { installCommand } = await import('../../src/tasks/venv.js')

/** A fresh key made by ssh-keygen for these tests; it opens nothing. */
function makeKey(passphrase = ''): string {
  const dir = mkdtempSync(join(tmpdir(), 'vsd-key-'))
  execFileSync('ssh-keygen', [
    '-q',
    '-t',
    'ed25519',
    '-N',
    passphrase,
    '-C',
    'unit',
    '-f',
    join(dir, 'key')
  ])
  return readFileSync(join(dir, 'key'), 'utf8')
}

let KEY: string
let base: Record<string, string>
beforeAll(() => {
  KEY = makeKey()
  base = {
    host: 'deploy.example.com',
    username: 'app',
    'private-key': KEY,
    'known-hosts': '',
    source: sourceTree(),
    target: '/srv/app',
    'start-command': 'python -m app',
    'version-url': 'http://127.0.0.1:7861/version',
    sha: TEST_SHA
  }
})

const parse_ = (overrides: Record<string, string> = {}) =>
  getSettings(inputReader({ ...base, ...overrides }))

function problemsOf(overrides: Record<string, string>): string[] {
  try {
    parse_(overrides)
  } catch (error) {
    if (error instanceof InputError) return error.problems
    throw error
  }
  throw new Error('expected an InputError')
}

describe('getSettings', () => {
  it('applies the documented defaults', () => {
    const settings = parse_()
    expect(settings).toMatchObject({
      hosts: [{ host: 'deploy.example.com', port: 22, username: 'app' }],
      strategy: 'releases',
      keepReleases: 5,
      stampFile: 'REVISION',
      clearPycache: true,
      python: 'python3',
      stopTimeoutSeconds: 30,
      killAfterTimeout: true,
      detach: true,
      versionCheckFrom: 'host',
      versionTimeoutSeconds: 120,
      stableForSeconds: 5,
      allowDowngrade: true,
      rollbackOnFailure: true,
      lockTimeoutSeconds: 300,
      maxParallel: 1,
      dryRun: false,
      connectTimeoutSeconds: 30
    })
    expect(settings.privateKey?.type).toBe('ssh-ed25519')
  })

  it('parses host lists with ports, IPv6 and users', () => {
    const settings = parse_({
      host: 'a.example.com, root@b.example.com:2222\n[2001:db8::1]:2200\n10.0.0.5',
      port: '2022'
    })
    expect(settings.hosts).toEqual([
      { host: 'a.example.com', port: 2022, username: 'app' },
      { host: 'b.example.com', port: 2222, username: 'root' },
      { host: '2001:db8::1', port: 2200, username: 'app' },
      { host: '10.0.0.5', port: 2022, username: 'app' }
    ])
  })

  it('masks every secret and each line of the key before parsing', () => {
    setSecret.mockClear()
    parse_({ passphrase: 'pass phrase', password: 'hunter22' })
    const masked = setSecret.mock.calls.map(call => call[0])
    expect(masked).toEqual(expect.arrayContaining([KEY, 'pass phrase', 'hunter22']))
    for (const line of KEY.split('\n').filter(line => line && !line.includes('-----'))) {
      expect(masked).toContain(line)
    }
  })

  it('reports every problem at once, naming the input and the fix', () => {
    const problems = problemsOf({
      port: 'abc',
      strategy: 'fast',
      'stable-for': '-3',
      detach: 'maybe'
    })
    expect(problems).toEqual([
      "port is 'abc': use a whole number from 1 to 65535",
      "strategy is 'fast': use one of 'releases', 'in-place'",
      "detach is 'maybe': use 'true' or 'false'",
      "stable-for is '-3': use a whole number from 0 to 3600"
    ])
  })

  it.each([
    [
      { host: 'no user here', username: '' },
      "host: 'no user here' is not a valid host name or IP address"
    ],
    [
      { host: 'box', username: '' },
      "host: 'box' has no user: set the 'username' input or write user@host"
    ],
    [{ host: 'box:0' }, "host: 'box:0' has port '0'; use 1-65535"],
    [{ target: '~' }, "target is '~': use an absolute path on the host"],
    [{ target: '/srv/../etc' }, "target is '/srv/../etc': use an absolute path on the host"],
    [
      { 'stamp-file': '../REVISION' },
      "stamp-file is '../REVISION': use a path relative to the release"
    ],
    [
      { 'shared-paths': 'data\n/etc/passwd' },
      "shared-paths is '/etc/passwd': use a path relative to the release"
    ],
    [{ sha: 'abc1234' }, "sha is 'abc1234': use the full commit SHA (40 hex characters)"],
    [{ ports: '7861, 70000' }, "ports is '70000': use comma-separated port numbers"],
    [{ env: '1BAD=x' }, "env is '1BAD=x': the name before = must be letters, digits and _"],
    [{ 'version-range': 'not a range' }, "version-range is 'not a range': use a semver range"],
    [{ 'version-field': 'a..b' }, "version-field is 'a..b': use a dot path into the JSON body"],
    [
      { 'python-import-check': 'my-app' },
      "python-import-check is 'my-app': use a Python module name"
    ],
    [{ 'host-fingerprint': 'MD5:aa:bb' }, "host-fingerprint is 'MD5:aa:bb': use the SHA256 form"],
    [
      { 'known-hosts': 'example.com ssh-ed25519 not-base64!' },
      'known-hosts: line 1 is not a known_hosts line'
    ],
    [
      { 'known-hosts': '@cert-authority *.example.com ssh-ed25519 AAAA' },
      "known-hosts: line 1 uses '@cert-authority'"
    ],
    [
      { 'jump-host': 'bastion:99999' },
      "jump-host: 'bastion:99999' has port '99999'; use 1-65535; write user@host:port"
    ],
    [
      { source: '/definitely/not/here' },
      "source is '/definitely/not/here': no such directory on the runner"
    ],
    [{ 'connect-timeout': '0' }, "connect-timeout is '0': use a whole number from 1 to 600"],
    [{ 'max-parallel': '0' }, "max-parallel is '0': use a whole number from 1 to 100"],
    [
      { 'process-match': 'a\nmyapp serve' },
      "process-match is 'a': use one line: the pattern is one extended regular expression"
    ]
  ])('refuses %j', (overrides, expected) => {
    expect(problemsOf(overrides).join('\n')).toContain(expected)
  })

  it('explains an encrypted key without passphrase and a wrong passphrase, never echoing the key', () => {
    const encrypted = makeKey('fixture passphrase')
    expect(problemsOf({ 'private-key': encrypted })).toEqual([
      'private-key: it is encrypted; set the passphrase input (from a secret)'
    ])
    const wrong = problemsOf({ 'private-key': encrypted, passphrase: 'wrong' })
    expect(wrong).toEqual([
      'private-key: it could not be decrypted with the given passphrase; check the passphrase secret'
    ])
    expect(
      parse_({ 'private-key': encrypted, passphrase: 'fixture passphrase' }).privateKey?.type
    ).toBe('ssh-ed25519')
  })

  it('reads PKCS#8 keys (BEGIN PRIVATE KEY): RSA and ECDSA are used, other types get the conversion', () => {
    const pkcs8 = (type: 'rsa' | 'ec' | 'ed25519', passphrase?: string): string => {
      const { privateKey } =
        type === 'rsa'
          ? generateKeyPairSync('rsa', { modulusLength: 2048 })
          : type === 'ec'
            ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
            : generateKeyPairSync('ed25519')
      return privateKey
        .export({
          type: 'pkcs8',
          format: 'pem',
          ...(passphrase ? { cipher: 'aes-256-cbc', passphrase } : {})
        })
        .toString()
    }
    const rsa = pkcs8('rsa')
    expect(rsa).toContain('BEGIN PRIVATE KEY')
    expect(parse_({ 'private-key': rsa }).privateKey?.type).toBe('ssh-rsa')
    expect(parse_({ 'private-key': pkcs8('ec') }).privateKey?.type).toBe('ecdsa-sha2-nistp256')
    const encrypted = pkcs8('rsa', 'pkcs8 pass')
    expect(problemsOf({ 'private-key': encrypted })).toEqual([
      'private-key: it is encrypted; set the passphrase input (from a secret)'
    ])
    expect(parse_({ 'private-key': encrypted, passphrase: 'pkcs8 pass' }).privateKey?.type).toBe(
      'ssh-rsa'
    )
    expect(problemsOf({ 'private-key': pkcs8('ed25519') })).toEqual([
      "private-key: it is a PKCS#8 ed25519 key (BEGIN PRIVATE KEY), which the SSH library cannot use; convert it to the OpenSSH format with 'ssh-keygen -p -f KEYFILE' (it rewrites the file) and paste that"
    ])
  })

  it('python-requirements: files of the source; pip install -r each .txt unless an install command is set', () => {
    const source = sourceTree()
    writeFileSync(join(source, "it's requirements.txt"), 'flask\n')
    writeFileSync(join(source, 'pyproject.toml'), '[project]\n')
    expect(parse_({ source }).pythonRequirements).toEqual([])
    expect(
      installCommand(
        parse_({ source, 'python-requirements': "it's requirements.txt\npyproject.toml" })
      )
    ).toBe("pip install -r 'it'\\''s requirements.txt'")
    expect(
      installCommand(
        parse_({
          source,
          'python-requirements': 'pyproject.toml',
          'python-install-command': 'uv pip install -r pyproject.toml'
        })
      )
    ).toBe('uv pip install -r pyproject.toml')
    expect(problemsOf({ source, 'python-requirements': 'pyproject.toml' })).toEqual([
      "python-install-command: set it: python-requirements lists no .txt file for 'pip install -r'. For a pyproject.toml project, e.g. 'uv pip install -r pyproject.toml', or export a requirements.txt in the workflow"
    ])
    expect(problemsOf({ source, 'python-requirements': 'missing.txt' })).toEqual([
      `python-requirements is 'missing.txt': no such file in source (${source}); list the repository's dependency files, e.g. requirements.txt`
    ])
    expect(
      problemsOf({
        source,
        'python-requirements': "it's requirements.txt",
        'shared-paths': 'data\n.venv'
      })
    ).toEqual([
      "shared-paths is '.venv': python-requirements gives each release its own .venv (a link to its environment in .deploy/venvs); remove .venv from shared-paths"
    ])
  })

  it('accepts password-only auth and normalizes paths', () => {
    const settings = parse_({
      'private-key': '',
      password: 'pw',
      target: '/srv//app/',
      'start-log': '~/logs/app.log'
    })
    expect(settings.privateKey).toBeUndefined()
    expect(settings.target).toBe('/srv/app')
    expect(settings.startLog).toBe('~/logs/app.log')
  })

  it('hold-ports: where each port is held, and what it needs', () => {
    const settings = parse_({ ports: '8000, 0.0.0.0:8001 [::]:8002', 'hold-ports': 'true' })
    expect(settings.ports).toEqual([8000, 8001, 8002])
    expect(settings.listen).toEqual(['127.0.0.1:8000', '0.0.0.0:8001', '[::]:8002'])
    expect(settings.holdPorts).toBe(true)
    expect(parse_().holdPorts).toBe(false)
    expect(problemsOf({ 'hold-ports': 'true', ports: '' })).toEqual([
      "hold-ports is 'true': set ports too: they are what the holder keeps listening, e.g. ports: 8000"
    ])
    expect(problemsOf({ 'hold-ports': 'true', ports: '8000', detach: 'false' })).toEqual([
      "hold-ports is 'true': it needs detach: true: a foreground start (systemctl start …) cannot inherit sockets from the action; use a systemd socket unit instead"
    ])
    expect(problemsOf({ ports: 'localhost:8000' })[0]).toMatch(/^ports is 'localhost:8000': /)
  })

  it('overlap: needs hold-ports and releases, and says so before anything runs', () => {
    expect(parse_({ ports: '8000', 'hold-ports': 'true', overlap: 'true' }).overlap).toBe(true)
    expect(parse_().overlap).toBe(false)
    expect(problemsOf({ ports: '8000', overlap: 'true' })).toEqual([
      "overlap is 'true': it needs hold-ports: true: the new release starts on the sockets the holder keeps listening while the old one still serves them; set hold-ports: true (and ports), or overlap: false"
    ])
    expect(
      problemsOf({ ports: '8000', 'hold-ports': 'true', overlap: 'true', strategy: 'in-place' })
    ).toEqual([
      "overlap is 'true': it needs strategy: releases: in place, the new files would replace the old ones under the service still running, and a failed release could not be undone by switching back; set strategy: releases, or overlap: false"
    ])
  })

  it('parses env, ports, excludes and host fingerprints', () => {
    const settings = parse_({
      env: 'A=1\n# comment\nB = two=2\nEMPTY=',
      ports: '7861, 8501',
      exclude: '*.log\n\nnode_modules/',
      'host-fingerprint': 'SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8='
    })
    expect(settings.env).toEqual([
      ['A', '1'],
      ['B', ' two=2'],
      ['EMPTY', '']
    ])
    expect(settings.ports).toEqual([7861, 8501])
    expect(settings.exclude).toEqual(['*.log', 'node_modules/'])
    expect(settings.hostKeys.fingerprints).toEqual([
      'SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8'
    ])
  })
})

describe('source', () => {
  it("refuses this action's own checkout, as a local run with source unset would ship it", () => {
    expect(problemsOf({ source: PROJECT_ROOT })).toContain(
      `source is '${PROJECT_ROOT}': that is this action's own checkout, not a project to ship: set source to your service's directory (INPUT_SOURCE in a local run's .env)`
    )
  })
})

describe('operation', () => {
  it('deploys by default; the others need no checkout, and verify no start-command', () => {
    expect(parse_().operation).toBe('deploy')
    const noCheckout = { source: join(tmpdir(), 'vsd-no-such-checkout') }
    expect(
      parse_({ ...noCheckout, operation: 'rollback', 'rollback-to': 'abcdef1' })
    ).toMatchObject({
      operation: 'rollback',
      rollbackTo: 'abcdef1'
    })
    expect(parse_({ ...noCheckout, operation: 'verify', 'start-command': '' }).operation).toBe(
      'verify'
    )
    expect(problemsOf({ ...noCheckout, operation: 'deploy' })[0]).toMatch(/^source is /)
  })

  it.each([
    [
      { operation: 'redeploy' },
      "operation is 'redeploy': use one of 'deploy', 'rollback', 'restart', 'verify'"
    ],
    [
      { 'rollback-to': 'abcdef1' },
      "rollback-to is 'abcdef1': it only applies with operation: rollback (operation is 'deploy')"
    ],
    [
      { operation: 'rollback', 'rollback-to': 'latest' },
      "rollback-to is 'latest': use a release name as the action makes them"
    ],
    [
      { operation: 'rollback', strategy: 'in-place' },
      "operation is 'rollback': it needs strategy: releases"
    ],
    [{ operation: 'restart', 'start-command': '' }, 'start-command is required']
  ])('refuses %j before anything runs', (overrides, problem) => {
    expect(problemsOf(overrides).join('\n')).toContain(problem)
  })
})

describe('action.yml', () => {
  const action = parse(readFileSync(join(PROJECT_ROOT, 'action.yml'), 'utf8')) as {
    inputs: Record<string, { default?: string; required?: boolean }>
    outputs: Record<string, unknown>
    runs: Record<string, string>
  }

  it('declares the same defaults the settings apply', () => {
    const declared = Object.fromEntries(
      Object.entries(action.inputs)
        // ${{ github.token }} is the runner's to resolve; the settings never see it unresolved.
        .filter(
          ([, input]) => input.default !== undefined && !String(input.default).startsWith('${{')
        )
        .map(([name, input]) => [name, String(input.default)])
    )
    expect(declared).toEqual(INPUT_DEFAULTS)
  })

  it('declares every input the settings read', () => {
    const read = new Set<string>()
    getSettings(name => {
      read.add(name)
      return base[name] ?? ''
    })
    expect([...read].sort()).toEqual(Object.keys(action.inputs).sort())
  })

  it('has a description the Marketplace lists: under 125 characters', () => {
    const { description } = parse(readFileSync(join(PROJECT_ROOT, 'action.yml'), 'utf8')) as {
      description: string
    }
    expect(description.length).toBeLessThan(125)
  })

  it('runs the bundle on node24', () => {
    expect(action.runs).toEqual({
      using: 'node24',
      main: 'dist/index.js',
      post: 'dist/post.js',
      'post-if': 'always()'
    })
  })
})

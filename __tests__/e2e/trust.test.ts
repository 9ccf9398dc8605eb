/**
 * What the host, the repository and the service say is data (README, "Security model"): tried as
 * an attacker with a foothold would (a hostile dependency or commit, another local user), nothing
 * they print, commit or answer acts as the action. The runner's reading of the action's stdout is
 * modelled by runnerCommands.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { micromark } from 'micromark'
import { gfm, gfmHtml } from 'micromark-extension-gfm'
import { logShows, runAction, type ActionRun } from '../support/action.js'
import { deploy, deployInputs, failureMessage, killedAfterAll } from '../support/deploy.js'
import { runnerCommands } from '../support/runner-commands.js'
import { DEBIAN_PYTHON, serviceSource, sha } from '../support/service.js'
import { freePort, startSshd, type TestSshd } from '../support/sshd.js'
import { write } from '../support/tree.js'
import { createUser, type TestUser } from '../support/users.js'

let sshd: TestSshd
let other: TestUser
const targets = killedAfterAll()
const servers: ChildProcess[] = []

beforeAll(async () => {
  sshd = await startSshd()
  other = createUser(sshd, 'vsdother', '/bin/sh')
})
afterAll(async () => {
  for (const server of servers) server.kill('SIGKILL')
  other?.remove()
  await sshd?.stop()
})

/**
 * The deploy user's directory, which others may traverse (mkdtemp makes 0700): where another
 * user's view is tried.
 */
function openDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  chmodSync(dir, 0o755)
  sshd.handOver(dir)
  return dir
}

async function inputs(name: string, overrides: Record<string, string> = {}) {
  const target = join(openDir('vsd-trust-'), name)
  targets.push(target)
  return { target, inputs: await deployInputs(sshd, serviceSource(), target, overrides) }
}

/** Lines that would inject `tag` as workflow commands, each form the runner knows. */
const injected = (tag: string) =>
  [
    `::error::${tag}`,
    `  ::warning::${tag} indented`,
    `::add-mask::${tag}`,
    `::stop-commands::${tag}token`,
    `::save-state name=unverified::${tag}`,
    `::set-output name=sha::${tag}`,
    `text ##[error]${tag}`
  ]
    .map(line => `'${line}'`)
    .join(' ')

/**
 * The runner's commands in a run's stdout that the injected text made: one whose data is injected
 * text (the action's own commands, an annotation or a debug line, may carry it as their data), or
 * a line taken for one by its `##[`.
 */
const foreignCommands = (run: ActionRun) =>
  runnerCommands(run.stdout).filter(
    line => /^::[^:]*::INJ/.test(line) || (!line.startsWith('::') && line.includes('INJ'))
  )

/** A plain HTTP server answering `body` on address:port, as another local user. */
async function otherUsersServer(address: string, port: number, body: string): Promise<void> {
  const script = `
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = sys.argv[3].encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
class S(http.server.HTTPServer):
    address_family = __import__("socket").AF_INET6 if ":" in sys.argv[1] else __import__("socket").AF_INET
S((sys.argv[1], int(sys.argv[2])), H).serve_forever()`
  const server = spawn(
    'setpriv',
    [
      `--reuid=${other.name}`,
      `--regid=${other.name}`,
      '--clear-groups',
      DEBIAN_PYTHON,
      '-c',
      script,
      address,
      String(port),
      body
    ],
    { stdio: 'ignore' }
  )
  servers.push(server)
  const url = `http://${address.includes(':') ? `[${address}]` : address}:${port}/`
  for (let tries = 0; tries < 50; tries++) {
    if (
      await fetch(url).then(
        () => true,
        () => false
      )
    )
      return
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  throw new Error(`the other user's server did not listen on ${url}`)
}

describe('the job log', () => {
  it('prepare-, migrate- and stop-command output cannot act as workflow commands', async () => {
    const { inputs: base } = await inputs('log-commands')
    await deploy({ ...base, sha: sha('1') })
    const run = await deploy({
      ...base,
      sha: sha('2'),
      'prepare-command': `printf '%s\\n' ${injected('INJ-prepare')}`,
      'migrate-command': `printf '%s\\n' ${injected('INJ-migrate')}`,
      'stop-command': `printf '%s\\n' ${injected('INJ-stop')}`
    })
    // The text is in the log, as data.
    expect(run.stdout).toContain('INJ-prepare')
    expect(run.stdout).toContain('INJ-stop')
    expect(foreignCommands(run)).toEqual([])
    expect(run.outputs.sha).toBe(sha('2'))
  })

  it("a start log's lines cannot either, nor can they reach the summary as Markdown", async () => {
    const flag = join(openDir('vsd-flag-'), 'fail-now')
    const { inputs: base } = await inputs('log-start')
    // After the first deploy, every start prints hostile lines and fails: the new release's, and
    // the rollback's.
    const start = `if [ -e ${flag} ]; then printf '%s\\n' ${injected('INJ-start')} '' '# INJ heading' '![INJ](https://example.invalid/x.png)' '| INJ | x |' '|---|---|' '| INJ | y |'; exit 1; fi; exec ${base['start-command']}`
    await deploy({ ...base, 'start-command': start, sha: sha('1') })
    writeFileSync(flag, '')
    const run = await deploy({ ...base, 'start-command': start, sha: sha('2') }, 1)
    expect(run.stdout).toContain('INJ-start')
    expect(foreignCommands(run)).toEqual([])
    expect(failureMessage(run)).toContain('The rollback')
    const html = micromark(run.summary, {
      allowDangerousHtml: true,
      extensions: [gfm()],
      htmlExtensions: [gfmHtml()]
    })
    expect(html).toContain('INJ heading')
    expect(html).not.toMatch(/<h1>[^<]*INJ|<img[^>]*INJ|<td>INJ/)
  })

  it("the service's answer: its version is one line, in the log, the output and the summary", async () => {
    const { inputs: base } = await inputs('log-version')
    write(base.source, 'VERSION', '1.0\n::error::INJ-version\n##[warning]INJ-version')
    const run = await deploy({ ...base, sha: sha('3') })
    expect(foreignCommands(run)).toEqual([])
    expect(run.outputs['reported-version']).toBe('1.0 ::error::INJ-version ##[warning]INJ-version')
    expect(run.stdout).toContain(`reports ${sha('3')} (version 1.0 `)
  })
})

describe("the post step's state", () => {
  it('comes from the main step only: a forged save-state neither stands nor makes it remove anything', async () => {
    const { target, inputs: base } = await inputs('forged-state')
    await deploy({ ...base, 'shared-paths': 'data/', sha: sha('1') })
    writeFileSync(join(target, 'shared', 'data', 'keep.txt'), 'shared data\n')
    const forged = JSON.stringify([
      {
        host: '127.0.0.1',
        port: sshd.port,
        username: sshd.user,
        target,
        release: '../shared',
        sha: sha('9'),
        token: 'f'.repeat(24),
        run: 'x'
      },
      {
        host: '127.0.0.2',
        port: 22,
        username: 'root',
        target,
        release: '20260101T000000Z-9999999',
        sha: sha('9'),
        token: 'f'.repeat(24),
        run: 'x'
      }
    ])
    const main = await deploy(
      {
        ...base,
        'shared-paths': 'data/',
        sha: sha('2'),
        'prepare-command': `printf '%s\\n' '::save-state name=unverified::${forged}'; exit 1`
      },
      1
    )
    // What the runner hands the post step: the state file's values, then what it would act on
    // from stdout for names the file did not set (nothing: the main step wrote every name).
    const state: Record<string, string> = { ...main.state }
    for (const line of runnerCommands(main.stdout)) {
      const saved = /^::save-state name=([^:]+)::(.*)$/.exec(line)
      if (saved && !(saved[1] in state)) state[saved[1]] = saved[2]
    }
    expect(state.unverified).toBe('[]')
    const post = await runAction({ ...base, 'shared-paths': 'data/' }, { entry: 'post', state })
    expect(post.code).toBe(0)
    expect(readFileSync(join(target, 'shared', 'data', 'keep.txt'), 'utf8')).toBe('shared data\n')

    // Had the runner taken it, the post step would still act on this run's own entries only.
    const acted = await runAction(
      { ...base, 'shared-paths': 'data/' },
      { entry: 'post', state: { ...state, unverified: forged } }
    )
    expect(acted.stdout).toContain(
      "The post step ignored an entry of its saved state 'unverified': it names a release the action would not make"
    )
    expect(acted.stdout).toContain("its host is not one of this run's")
    expect(readFileSync(join(target, 'shared', 'data', 'keep.txt'), 'utf8')).toBe('shared data\n')
    expect(existsSync(join(target, 'current'))).toBe(true)
  })
})

describe("the repository's files", () => {
  it('never redirect what the action writes: REVISION and UNVERIFIED symlinks are replaced, not written through', async () => {
    const victims = openDir('vsd-victims-')
    writeFileSync(join(victims, 'victim1'), 'victim one\n')
    writeFileSync(join(victims, 'victim2'), 'victim two\n')
    const { target, inputs: base } = await inputs('symlinks')
    symlinkSync(join(victims, 'victim1'), join(base.source, 'REVISION'))
    symlinkSync(join(victims, 'victim2'), join(base.source, 'UNVERIFIED'))
    const run = await deploy({ ...base, sha: sha('4') })
    expect(readFileSync(join(victims, 'victim1'), 'utf8')).toBe('victim one\n')
    expect(readFileSync(join(victims, 'victim2'), 'utf8')).toBe('victim two\n')
    const stamp = join(target, 'releases', run.outputs.release, 'REVISION')
    expect(lstatSync(stamp).isSymbolicLink()).toBe(false)
    expect(readFileSync(stamp, 'utf8')).toBe(`${sha('4')}\n`)
  })
})

describe('the target belongs to the deploy user', () => {
  const refused = async (target: string, expected: RegExp) => {
    const { inputs: base } = await inputs('unused')
    const before = readdirSync(target)
    const run = await deploy({ ...base, target }, 1)
    expect(failureMessage(run)).toMatch(expected)
    expect(failureMessage(run)).toContain('Nothing was written')
    expect(readdirSync(target)).toEqual(before)
  }

  it('refuses a target another user made, with .deploy and releases open to all', async () => {
    const target = join(openDir('vsd-owned-'), 'app')
    for (const dir of [target, join(target, '.deploy'), join(target, 'releases')]) {
      mkdirSync(dir)
      chmodSync(dir, 0o777)
      chownSync(dir, Number(execFileSync('id', ['-u', other.name], { encoding: 'utf8' })), 0)
    }
    await refused(
      target,
      new RegExp(
        `lock: ${target} belongs to uid \\d+ \\(mode drwxrwxrwx\\), not to the deploy user ${sshd.user} or root.*sudo chown ${sshd.user} '${target}'`
      )
    )
  })

  it('refuses a group-writable .deploy', async () => {
    const target = join(openDir('vsd-groupw-'), 'app')
    mkdirSync(join(target, '.deploy'), { recursive: true })
    chmodSync(join(target, '.deploy'), 0o775)
    await refused(
      target,
      new RegExp(
        `${target}/.deploy is writable by users other than its owner \\(mode drwxrwxr-x.*chmod go-w '${target}/.deploy'`
      )
    )
  })

  it('refuses a target under a world-writable parent that is not sticky', async () => {
    const parent = openDir('vsd-open-')
    chmodSync(parent, 0o777)
    const target = join(parent, 'app')
    mkdirSync(target)
    await refused(target, new RegExp(`${parent} is writable by users other than its owner`))
  })

  it("deploys a target that is the deploy user's own under /tmp (sticky), and keeps .deploy to that user", async () => {
    const target = `/tmp/vsd-${sshd.user}-app`
    targets.push(target)
    try {
      await deploy({ ...(await deployInputs(sshd, serviceSource(), target)), sha: sha('5') })
      // Another local user reads nothing of the action's own files.
      for (const file of ['journal', 'restart.log', 'state.json', 'service.log']) {
        expect(existsSync(join(target, '.deploy', file))).toBe(true)
        const read = spawnSync('setpriv', [
          `--reuid=${other.name}`,
          `--regid=${other.name}`,
          '--clear-groups',
          'cat',
          join(target, '.deploy', file)
        ])
        expect(read.status).not.toBe(0)
        expect((lstatSync(join(target, '.deploy', file)).mode & 0o077) === 0).toBe(true)
      }
      expect(lstatSync(join(target, '.deploy')).mode & 0o777).toBe(0o700)
    } finally {
      rmSync(target, { recursive: true, force: true })
    }
  })
})

describe('the version answer comes from the new service', () => {
  it('follows no redirect: a 302 to another address fails naming it, and its body is never read', async () => {
    const secretPort = await freePort()
    await otherUsersServer('127.0.0.1', secretPort, '{"AccessKeyId": "INJSECRET"}')
    const redirectPort = await freePort()
    const script = `
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(302); self.send_header("Location", sys.argv[2]); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()`
    const location = `http://127.0.0.1:${secretPort}/latest/meta-data/iam/security-credentials/x`
    servers.push(
      spawn(DEBIAN_PYTHON, ['-c', script, String(redirectPort), location], { stdio: 'ignore' })
    )
    await new Promise(resolve => setTimeout(resolve, 500))
    const { inputs: base } = await inputs('redirect', {
      'version-url': `http://127.0.0.1:${redirectPort}/version`,
      'version-check-from': 'runner',
      'version-timeout': '2',
      'rollback-on-failure': 'false'
    })
    const run = await deploy(base, 1)
    expect(failureMessage(run)).toContain(
      `HTTP 302, a redirect to ${location}: redirects are not followed`
    )
    expect(`${run.stdout}${run.summary}`).not.toContain('INJSECRET')
  })

  it("fails on another user's listener that answers with the right commit, ports unset", async () => {
    const port = await freePort()
    await otherUsersServer('127.0.0.1', port, JSON.stringify({ commit: sha('6') }))
    const { inputs: base } = await inputs('stranger', {
      'start-command': 'exec sleep 600',
      ports: '',
      'version-url': `http://127.0.0.1:${port}/version`,
      sha: sha('6')
    })
    const run = await deploy(base, 1)
    expect(failureMessage(run)).toMatch(
      new RegExp(
        `reports ${sha('6')}, but where version-url points on this host \\(127\\.0\\.0\\.1 port ${port}\\) the listener is not a process of the new service`
      )
    )
  })

  it("fails on another user's listener on [::1] that this user cannot see, while the service holds its port on 127.0.0.1", async () => {
    // Where `localhost` resolves to ::1 first, this is what a URL naming localhost reaches. The
    // deploy user is not root, so the port check alone sees only its own service on the port.
    const port = await freePort()
    const base = await deployInputs(sshd, serviceSource(), '~/app', {
      'start-command': `${DEBIAN_PYTHON} -m vsdsvc start --port ${port}`,
      ports: String(port),
      'version-url': `http://[::1]:${port}/version`,
      'version-timeout': '5',
      sha: sha('7')
    })
    // It binds once wait-for-exit found the port free, as the new service starts.
    const run = await runAction(base, {
      whileRunning: async child => {
        await logShows(child, /::group::\S+: start\n/)
        await otherUsersServer('::1', port, JSON.stringify({ commit: sha('7') }))
      }
    })
    expect(run.code).toBe(1)
    expect(failureMessage(run)).toMatch(
      new RegExp(
        `reports ${sha('7')}, but where version-url points on this host \\(::1 port ${port}\\) the listener is not a process of the new service .*\\n.*a process this user cannot see`
      )
    )
  })
})

/**
 * The deploy flow's decisions (deploy.ts) against a fake host (support/fake-host.ts), with a
 * failure injected at every verb: what runs, what is rolled back, what is removed, what the post
 * step is left, and what the report says. The e2e tests run the same flow against a real sshd.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { deployAll } from '../../src/engine/deploy.js'
import { runOperation } from '../../src/engine/operations.js'
import type { HostAddress } from '../../src/inputs/host-address.js'
import { PhaseError } from '../../src/model/phase.js'
import { HostStepUnknown } from '../../src/remote/host-step.js'
import { HostStepDied } from '../../src/tasks/restart.js'
import { UndoneByHost } from '../../src/tasks/watchdog.js'
import { DeployReport } from '../../src/report/report.js'
import { getSettings, type Settings } from '../../src/inputs/settings.js'
import { FakeHost, KEPT, TARGET, type FakeHostOptions } from '../support/fake-host.js'
import { inputReader, sourceTree, TEST_SHA } from '../support/fixtures.js'

const PREVIOUS = { release: '20261201T000000Z-aaaaaaa', sha: 'a'.repeat(40) }
let privateKey: string
let source: string
let stateFile: string
let stdout: string

beforeAll(() => {
  const dir = mkdtempSync(join(tmpdir(), 'vsd-flow-'))
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'key')])
  privateKey = readFileSync(join(dir, 'key'), 'utf8')
  source = sourceTree()
})

beforeEach(() => {
  stateFile = join(mkdtempSync(join(tmpdir(), 'vsd-flow-state-')), 'state')
  writeFileSync(stateFile, '')
  process.env.GITHUB_STATE = stateFile
  stdout = ''
  jest.spyOn(process.stdout, 'write').mockImplementation(chunk => {
    stdout += String(chunk)
    return true
  })
})

afterEach(() => {
  jest.restoreAllMocks()
  delete process.env.GITHUB_STATE
})

function settingsWith(inputs: Record<string, string> = {}): Settings {
  return getSettings(
    inputReader({
      host: 'a.example',
      username: 'deploy',
      'private-key': privateKey,
      source,
      target: TARGET,
      'start-command': 'python3 -m app serve',
      'version-url': 'http://127.0.0.1:8000/version',
      sha: TEST_SHA,
      ...inputs
    })
  )
}

/** What the main step last saved for the post step, by key (GITHUB_STATE's heredoc format). */
function savedState(): Record<string, unknown> {
  const saved: Record<string, unknown> = {}
  const lines = readFileSync(stateFile, 'utf8').split('\n')
  for (let at = 0; at < lines.length; at++) {
    const [, key, delimiter] = /^(\w+)<<(.+)$/.exec(lines[at]) ?? []
    if (!key) continue
    const end = lines.indexOf(delimiter, at + 1)
    saved[key] = JSON.parse(lines.slice(at + 1, end).join('\n'))
    at = end
  }
  return saved
}

const address: HostAddress = { host: 'a.example', port: 22, username: 'deploy' }

/** One host's deploy through the flow; its report, the host's calls, and the error if it failed. */
async function shipWith(options: FakeHostOptions = {}, inputs: Record<string, string> = {}) {
  const host = new FakeHost(address, { previous: PREVIOUS, ...options })
  const report = new DeployReport().addHost('a.example')
  const error = await runOperation(host, settingsWith(inputs), TEST_SHA, report).then(
    () => undefined,
    (thrown: unknown) => thrown
  )
  return { host, report, error: error as PhaseError | undefined, calls: host.calls }
}

const label = 'a.example'
const stepFailure = (phase: PhaseError['phase'], detail = `${phase} failed`) =>
  new PhaseError(label, phase, detail)

describe('one host: the flow', () => {
  it('runs every verb in order and leaves the post step nothing', async () => {
    const { calls, report, error } = await shipWith()
    expect(error).toBeUndefined()
    expect(calls).toEqual([
      'lock',
      'heartbeat',
      'upload',
      'armWatchdog',
      'prepare',
      'restart+watchdog',
      'verify',
      'confirm',
      'prune',
      'heartbeat stopped',
      'releaseLock'
    ])
    expect(report.result).toBe('success')
    expect(report.reportedVersion).toBe('2.0.0')
    // From asking for the restart to the first verified answer (the fake's is 2.5 s later).
    expect(report.downtimeSeconds).toBeCloseTo(2.5, 1)
    expect(savedState()).toMatchObject({ unverified: [], locks: [] })
    expect(report.phases.map(phase => phase.phase)).toEqual([
      'lock',
      'upload',
      'prepare',
      'stop',
      'wait-for-exit',
      'switch',
      'start',
      'verify',
      'prune'
    ])
  })

  it('restarts without the watchdog when it could not be armed', async () => {
    const { calls } = await shipWith({ armed: false })
    expect(calls).toContain('restart')
    expect(calls).not.toContain('restart+watchdog')
  })

  it('reads the running version before the restart with allow-downgrade: false, and checks against it', async () => {
    const { calls, report } = await shipWith(
      { runningVersion: '1.0.0' },
      { 'allow-downgrade': 'false' }
    )
    expect(calls.indexOf('runningVersion')).toBeLessThan(calls.indexOf('restart+watchdog'))
    expect(calls).toContain('verify (previous 1.0.0)')
    expect(report.previousVersion).toBe('1.0.0')
  })

  it('prunes nothing in place without a managed venv', async () => {
    expect((await shipWith({}, { strategy: 'in-place' })).calls).not.toContain('prune')
  })
})

describe('one host: failures before the switch leave the old service, and no release of the run', () => {
  for (const verb of ['upload', 'armWatchdog', 'prepare', 'migrate'] as const) {
    it(`${verb} fails: no restart, no rollback, the release is removed, the lock released`, async () => {
      const { calls, error, report } = await shipWith(
        { fail: { [verb]: new Error('boom') } },
        { 'migrate-command': 'flask db upgrade' }
      )
      expect(error?.phase).toBe(verb === 'armWatchdog' ? 'prepare' : verb)
      expect(calls).not.toContain('restart+watchdog')
      expect(calls.some(call => call.startsWith('rollback'))).toBe(false)
      expect(calls).toEqual(expect.arrayContaining([expect.stringMatching(/^discard /)]))
      expect(calls.slice(-2)).toEqual(['heartbeat stopped', 'releaseLock'])
      expect(report.result).toBe('not-started')
      expect(savedState()).toMatchObject({ locks: [] })
    })
  }

  it('lock fails: nothing else runs, but the release of a half-taken lock is still tried', async () => {
    const { calls, error } = await shipWith({ fail: { lock: new Error('busy') } })
    expect(error?.phase).toBe('lock')
    expect(calls).toEqual(['lock', 'releaseLock'])
  })

  for (const phase of ['stop', 'wait-for-exit', 'switch'] as const) {
    it(`the restart fails in ${phase}: no rollback (the new release never started)`, async () => {
      const { calls, error } = await shipWith({ fail: { restart: stepFailure(phase) } })
      expect(error?.phase).toBe(phase)
      expect(calls.some(call => call.startsWith('rollback'))).toBe(false)
      expect(calls).toContain(`discard ${calls.find(c => c.startsWith('discard '))?.slice(8)}`)
    })
  }
})

describe('one host: migrate-command', () => {
  it('runs in its own phase after prepare, before the old version is read and anything stops', async () => {
    const { calls, report } = await shipWith(
      { runningVersion: '1.0.0' },
      { 'migrate-command': 'python manage.py migrate', 'allow-downgrade': 'false' }
    )
    const at = (call: string) => calls.indexOf(call)
    expect(at('migrate (python manage.py migrate)')).toBe(at('prepare') + 1)
    expect(at('runningVersion')).toBe(at('prepare') + 2)
    expect(at('restart+watchdog')).toBeGreaterThan(at('runningVersion'))
    expect(report.phases.map(phase => phase.phase).slice(2, 5)).toEqual([
      'prepare',
      'migrate',
      'stop'
    ])
  })

  it('without it, no migrate phase', async () => {
    const { calls, report } = await shipWith()
    expect(calls.some(call => call.startsWith('migrate'))).toBe(false)
    expect(report.phases.map(phase => phase.phase)).not.toContain('migrate')
  })

  it('a rollback past a migrated release says the database keeps its migrations', async () => {
    const { report } = await shipWith(
      { fail: { restart: stepFailure('start', 'exit 1') } },
      { 'migrate-command': 'alembic upgrade head' }
    )
    expect(report.rolledBack).toBe(true)
    expect(report.rollbackOutcome).toMatch(
      /^Rolled back to \S+, the release live before this deploy: it is verified serving [0-9a-f]{40}\. The database keeps the migrations that \S+'s migrate-command ran: what serves after the rollback runs against them\./
    )
  })

  it('while the restart runs, the post step would know the release migrated (a cancel says so too)', async () => {
    const saved: unknown[] = []
    const host = new FakeHost(address, { previous: PREVIOUS })
    const restart = host.restart.bind(host)
    host.restart = async (...args) => {
      saved.push(...(savedState().unverified as unknown[]))
      return restart(...args)
    }
    await runOperation(
      host,
      settingsWith({ 'migrate-command': 'alembic upgrade head' }),
      TEST_SHA,
      new DeployReport().addHost(label)
    )
    expect(saved).toEqual([expect.objectContaining({ sha: TEST_SHA, migrated: true })])
  })

  it('a rollback without one says nothing of a database', async () => {
    const { report } = await shipWith({ fail: { restart: stepFailure('start', 'exit 1') } })
    expect(report.rollbackOutcome).not.toContain('database')
  })

  it('the host undoing a migrated release by itself says it too', async () => {
    const undo = { undone: true, text: 'The host undid R by itself at T' }
    const { report } = await shipWith(
      { fail: { confirm: new UndoneByHost(label, 'verify', undo) } },
      { 'migrate-command': 'alembic upgrade head' }
    )
    expect(report.rollbackOutcome).toContain('The database keeps the migrations')
  })
})

describe('one host: the rollback rule', () => {
  it('a failed start is rolled back, and the message carries the failure and the outcome', async () => {
    const { calls, error, report } = await shipWith({
      fail: { restart: stepFailure('start', 'the start command exited with code 1') }
    })
    expect(calls).toContain('rollback (the start command exited with code 1)')
    expect(report.rolledBack).toBe(true)
    // The engine's one sentence for the outcome the host returned (rollbackSentence).
    expect(report.rollbackOutcome).toBe(
      `Rolled back to ${PREVIOUS.release}, the release live before this deploy: it is verified serving ${PREVIOUS.sha}.`
    )
    // The outage lasts until the restored release answered (the fake's is 4 s later).
    expect(report.downtimeSeconds).toBeCloseTo(4, 1)
    expect(error?.phase).toBe('start')
    // The outcome is reported beside the failure (annotation, summary), not inside its text.
    expect(error?.detail).toBe('the start command exited with code 1')
    // The failed release goes once it is not live, after the rollback.
    expect(calls.findIndex(call => call.startsWith('discard '))).toBeGreaterThan(
      calls.findIndex(call => call.startsWith('rollback'))
    )
    expect(report.phases.map(phase => phase.phase)).toContain('rollback')
  })

  it('a failed verify is rolled back', async () => {
    const { calls, error } = await shipWith({ fail: { verify: new Error('reported bbbb') } })
    expect(error?.phase).toBe('verify')
    expect(calls).toContain('rollback (reported bbbb)')
    expect(calls).not.toContain('confirm')
  })

  it('where logind stops processes at logout, verify asks again after the session, before the confirm', async () => {
    const { calls, error } = await shipWith({ stopsAtLogout: true })
    expect(error).toBeUndefined()
    expect(calls.slice(calls.indexOf('verify'), calls.indexOf('confirm') + 1)).toEqual([
      'verify',
      'verifyAfterLogout',
      'confirm'
    ])
    expect((await shipWith()).calls).not.toContain('verifyAfterLogout')
  })

  it('a service that stopped with the session fails verify and is rolled back', async () => {
    const { calls, error } = await shipWith({
      stopsAtLogout: true,
      fail: { verifyAfterLogout: new Error('it stopped with the session') }
    })
    expect(error?.phase).toBe('verify')
    expect(calls).toContain('rollback (it stopped with the session)')
    expect(calls).not.toContain('confirm')
  })

  it('a restart step killed halfway (wait-for-exit) is rolled back: what serves is no known state', async () => {
    const { calls } = await shipWith({
      fail: { restart: new HostStepDied(label, 'wait-for-exit', 'killed by SIGKILL') }
    })
    expect(calls).toContain('rollback (killed by SIGKILL)')
  })

  it('a verify failure after the host undid the release says so first, then what verify saw', async () => {
    const { error, report } = await shipWith({
      fail: { verify: new Error('kept reporting aaaa instead of bbbb') },
      rollback: 'by-host'
    })
    expect(error?.detail).toMatch(
      /^The host undid \S+ by itself\. What this run saw before it knew: kept reporting aaaa/
    )
    expect(report.rollbackOutcome).toBeUndefined()
    expect(report.rolledBack).toBe(true)
  })

  it('a restart step whose end was not read (stop) is rolled back too: its outcome is unknown', async () => {
    const { calls } = await shipWith({
      fail: { restart: new HostStepUnknown(label, 'stop', 'the outcome is unknown') }
    })
    expect(calls).toContain('rollback (the outcome is unknown)')
  })

  it('rollback-on-failure: false leaves the failed release live', async () => {
    const { calls, report } = await shipWith(
      { fail: { verify: new Error('reported bbbb') } },
      { 'rollback-on-failure': 'false' }
    )
    expect(calls.some(call => call.startsWith('rollback'))).toBe(false)
    expect(report.rolledBack).toBe(false)
  })

  it('strategy in-place has nothing to roll back to and no release to remove', async () => {
    const { calls } = await shipWith(
      { fail: { restart: stepFailure('start') } },
      { strategy: 'in-place' }
    )
    expect(calls.some(call => call.startsWith('rollback') || call.startsWith('discard'))).toBe(
      false
    )
  })

  it('a rollback that throws is reported as failed, and the deploy fails in its phase', async () => {
    const { error, report } = await shipWith({
      fail: { restart: stepFailure('start', 'exit 1'), rollback: new Error('no route to host') }
    })
    expect(report.rolledBack).toBe(false)
    expect(error?.phase).toBe('start')
    expect(error?.detail).toBe('exit 1')
    expect(report.rollbackOutcome).toBe('The rollback failed: no route to host')
    // Nothing verified answered after the stop: no figure to report.
    expect(report.downtimeSeconds).toBeUndefined()
  })

  it('the host undid the release by itself (a frozen runner): no second rollback', async () => {
    const undo = { undone: true, text: 'The host undid R by itself at T' }
    const { calls, error, report } = await shipWith({
      fail: { confirm: new UndoneByHost(label, 'verify', undo) }
    })
    expect(calls.some(call => call.startsWith('rollback'))).toBe(false)
    expect(report.rolledBack).toBe(true)
    expect(error?.detail).toBe(undo.text)
  })

  it('while the restart runs, the post step could verify the release or return to the previous one', async () => {
    let during: unknown
    const host = new FakeHost(address, { previous: PREVIOUS })
    const restart = host.restart.bind(host)
    host.restart = async (...args) => {
      during = savedState().unverified
      return restart(...args)
    }
    await runOperation(host, settingsWith(), TEST_SHA, new DeployReport().addHost(label))
    expect(during).toEqual([
      expect.objectContaining({ host: 'a.example', sha: TEST_SHA, fallback: PREVIOUS })
    ])
  })

  it('during its rollback, the post step would verify the previous release, not the failed one', async () => {
    let during: unknown
    const host = new FakeHost(address, {
      previous: PREVIOUS,
      fail: { restart: stepFailure('start') }
    })
    const rollback = host.rollback.bind(host)
    host.rollback = async (...args) => {
      during = savedState().unverified
      return rollback(...args)
    }
    await runOperation(host, settingsWith(), TEST_SHA, new DeployReport().addHost(label)).catch(
      () => undefined
    )
    expect(during).toEqual([
      expect.objectContaining({ release: PREVIOUS.release, sha: PREVIOUS.sha })
    ])
    // Nothing to return to from the previous release: a rollback of the rollback has no target.
    expect((during as object[])[0]).not.toHaveProperty('fallback')
  })
})

describe('one host: after verify, only warnings', () => {
  it('a failed prune is a warning; the deploy succeeded', async () => {
    const { error, report } = await shipWith({ fail: { prune: new Error('read-only') } })
    expect(error).toBeUndefined()
    expect(report.result).toBe('success')
    expect(stdout).toMatch(/::warning.*read-only/)
  })

  it('a lock that cannot be released is a warning, and stays saved for the post step', async () => {
    const { error } = await shipWith({ fail: { releaseLock: new Error('connection lost') } })
    expect(error).toBeUndefined()
    expect(stdout).toContain('The post step will retry')
    expect(savedState().locks).toEqual([expect.objectContaining({ host: 'a.example' })])
  })
})

describe('one host: overlap (the new release beside the old one)', () => {
  const OVERLAP = { ports: '8000', 'hold-ports': 'true', overlap: 'true' }

  it('starts beside the old service, verifies, retires the old one, verifies again: no downtime', async () => {
    const { calls, report, error } = await shipWith({}, OVERLAP)
    expect(error).toBeUndefined()
    expect(calls).toEqual([
      'lock',
      'heartbeat',
      'upload',
      'armWatchdog',
      'prepare',
      'restart beside the old service+watchdog',
      'verify beside the old service',
      'retire',
      'verify',
      'confirm',
      'prune',
      'heartbeat stopped',
      'releaseLock'
    ])
    expect(report.phases.map(phase => phase.phase)).toEqual([
      'lock',
      'upload',
      'prepare',
      'switch',
      'start',
      'verify',
      'stop',
      'wait-for-exit',
      'verify',
      'prune'
    ])
    // The new release answered (uptime 999 s) before the old one was gone (1000 s).
    expect(report.downtimeSeconds).toBe(0)
    expect(report.overlapped).toBe(true)
    expect(savedState()).toMatchObject({ unverified: [] })
  })

  it.each([
    ['its start fails', { fail: { restart: stepFailure('start', 'the start command exited 1') } }],
    ['it never answers beside the old one', { failBeside: stepFailure('verify', 'gave no commit') }]
  ] as [string, FakeHostOptions][])(
    'a release that fails before the old service is retired (%s) is withdrawn: no rollback, no outage',
    async (_, options) => {
      const { calls, report, error } = await shipWith(options, OVERLAP)
      expect(error).toBeInstanceOf(PhaseError)
      expect(calls.filter(call => /^(withdraw|rollback|retire)/.test(call))).toEqual([
        `withdraw (${(error as PhaseError).detail})`
      ])
      expect(report.rolledBack).toBe(true)
      expect(report.rollbackOutcome).toBe(
        `Withdrew it (overlap): its processes were stopped and ${PREVIOUS.release} is live again; the old service was never stopped and still serves ${PREVIOUS.sha}.`
      )
      expect(report.downtimeSeconds).toBeUndefined()
      // Its own release goes, as any failed deploy's.
      expect(calls.some(call => call.startsWith('discard '))).toBe(true)
      expect(savedState()).toMatchObject({ unverified: [] })
    }
  )

  it('a withdraw happens whatever rollback-on-failure says: two instances are never left serving', async () => {
    const { calls } = await shipWith(
      { failBeside: stepFailure('verify', 'gave no commit') },
      { ...OVERLAP, 'rollback-on-failure': 'false' }
    )
    expect(calls).toContain('withdraw (gave no commit)')
  })

  it('once the old service is retired, a failure rolls back as without overlap', async () => {
    const afterRetire = await shipWith(
      { fail: { verify: stepFailure('verify', 'stable-for failed') }, failBeside: undefined },
      OVERLAP
    )
    // fail.verify fails the first verify too: that one is beside the old service, so it withdraws.
    expect(afterRetire.calls).toContain('withdraw (stable-for failed)')
    const retireFails = await shipWith(
      { fail: { retire: stepFailure('wait-for-exit', 'the old service did not go away') } },
      OVERLAP
    )
    // The new release answered; the old one would not stop: neither is undone, the failure says so.
    expect(retireFails.error?.phase).toBe('wait-for-exit')
    expect(retireFails.calls.filter(call => /^(withdraw|rollback)/.test(call))).toEqual([])
  })

  it('restart with overlap: the live release started again beside itself, the old instance retired', async () => {
    const host = new FakeHost(address, {})
    const report = new DeployReport().addHost('a.example')
    await runOperation(host, settingsWith({ ...OVERLAP, operation: 'restart' }), '', report)
    expect(host.calls).toEqual([
      'lock',
      'heartbeat',
      'releases',
      `restart (restart to ${KEPT.live}) beside the old service`,
      'verify beside the old service',
      'retire',
      'verify',
      'confirm',
      'heartbeat stopped',
      'releaseLock'
    ])
    expect(report.phases.map(phase => phase.phase)).not.toContain('switch')
  })
})

describe('several hosts', () => {
  const hosts = ['a.example', 'b.example', 'c.example']

  async function deployTo(fail: Record<string, FakeHostOptions>, inputs: Record<string, string>) {
    const opened: Record<string, FakeHost> = {}
    const report = new DeployReport()
    const error = await deployAll(
      settingsWith({ host: hosts.join('\n'), ...inputs }),
      TEST_SHA,
      report,
      async at => (opened[at.host] = new FakeHost(at, { previous: PREVIOUS, ...fail[at.host] }))
    ).then(
      () => undefined,
      (thrown: unknown) => thrown as Error
    )
    return { opened, report, error }
  }

  it('a rolling deploy stops at the first failure and says what is where', async () => {
    const { opened, report, error } = await deployTo(
      { 'b.example': { fail: { restart: stepFailure('start') } } },
      { 'max-parallel': '1' }
    )
    expect(Object.keys(opened)).toEqual(['a.example', 'b.example'])
    expect(report.hosts.map(host => host.result)).toEqual(['success', 'failed', 'not-started'])
    expect(error?.message).toBe(
      'Deploy failed on b.example:22 in start; the previous release was restored and verified. ' +
        'Deployed (left on the new release): a.example:22. Not started: c.example:22. ' +
        'The errors above and the job summary have the details.'
    )
    expect(opened['b.example'].calls).toContain('close')
    // The annotation carries the failure and, beside it, how the rollback went.
    expect(stdout).toContain(
      `::error title=Deploy to b.example%3A22 failed in start; rolled back::[${label}] start: start failed%0ARolled back to ${PREVIOUS.release}, the release live before this deploy: it is verified serving ${PREVIOUS.sha}.`
    )
  })

  it('a dry run connects and plans, and asks the host nothing else', async () => {
    const { opened, report, error } = await deployTo({}, { 'dry-run': 'true' })
    expect(error).toBeUndefined()
    expect(report.hosts.map(host => host.result)).toEqual(['dry-run', 'dry-run', 'dry-run'])
    for (const host of Object.values(opened)) expect(host.calls).toEqual(['close'])
    expect(report.hosts[0].plan?.[0]).toMatch(/^ 1\. connect/)
  })
})

describe('operations: the same steps, chosen on the host', () => {
  /** One host's operation through deployAll; the host's calls, the report and the error. */
  async function operate(
    operation: string,
    options: FakeHostOptions = {},
    inputs: Record<string, string> = {}
  ) {
    let host: FakeHost | undefined
    const report = new DeployReport()
    // What main.ts hands over: a verify's expected commit; nothing for the others.
    const expected = operation === 'verify' ? (inputs.sha ?? KEPT_LIVE.sha) : ''
    const error = await deployAll(
      settingsWith({ operation, sha: expected, ...inputs }),
      expected,
      report,
      async at => (host = new FakeHost(at, options))
    ).then(
      () => undefined,
      (thrown: unknown) => thrown as Error
    )
    return { calls: (host as FakeHost).calls, report: report.hosts[0], error }
  }

  it('rollback: lock, choose, the restart back to the newest verified older release, verify; no upload', async () => {
    const { calls, report, error } = await operate('rollback')
    expect(error).toBeUndefined()
    expect(calls).toEqual([
      'lock',
      'heartbeat',
      'releases',
      'armWatchdog',
      `restart (rollback to ${KEPT.releases[0].name})+watchdog`,
      'verify',
      'confirm',
      'heartbeat stopped',
      'releaseLock',
      'close'
    ])
    expect(report).toMatchObject({
      result: 'success',
      release: KEPT.releases[0].name,
      sha: KEPT.releases[0].sha,
      previousRelease: KEPT_LIVE.name
    })
    expect(report.phases.map(phase => phase.phase)).toEqual([
      'connect',
      'lock',
      'choose',
      'choose',
      'stop',
      'wait-for-exit',
      'switch',
      'start',
      'verify'
    ])
  })

  it('rollback to an unknown commit changes nothing', async () => {
    const { calls, error, report } = await operate('rollback', {}, { 'rollback-to': 'ccccccc' })
    expect(error?.message).toMatch(/Deploy failed on a\.example:22 in choose/)
    expect(calls).not.toContain('armWatchdog')
    expect(calls.some(call => call.startsWith('restart'))).toBe(false)
    expect(report.error).toContain("rollback-to 'ccccccc' names no kept release")
  })

  it('a rollback whose chosen release fails to start returns to the release that was live', async () => {
    const { calls, report } = await operate('rollback', {
      fail: { restart: stepFailure('start') }
    })
    expect(calls).toContain('rollback (start failed)')
    expect(report.rolledBack).toBe(true)
  })

  it('restart: the live release stopped and started as it is, no switch, no rollback on failure', async () => {
    const { calls, report } = await operate('restart')
    expect(calls).toContain(`restart (restart to ${KEPT_LIVE.name})`)
    expect(report.phases.map(phase => phase.phase)).not.toContain('switch')
    expect(report.sha).toBe(KEPT_LIVE.sha)
    const failed = await operate('restart', { fail: { verify: new Error('gave no commit') } })
    expect(failed.calls.some(call => call.startsWith('rollback'))).toBe(false)
    expect(failed.report.result).toBe('failed')
  })

  it('verify: no lock, no restart; fails on another commit or a release that never passed verify', async () => {
    const passed = await operate('verify')
    expect(passed.calls).toEqual(['releases', 'verifyLive', 'close'])
    expect(passed.report.result).toBe('success')
    const other = await operate('verify', {}, { sha: 'c'.repeat(40) })
    expect(other.report.error).toContain(
      `${KEPT_LIVE.name} is live with commit ${KEPT_LIVE.sha}, but ${'c'.repeat(40)} was expected`
    )
    const unverified = await operate('verify', {
      kept: { ...KEPT, releases: [KEPT.releases[0], { ...KEPT_LIVE, state: 'unverified' }] }
    })
    expect(unverified.report.error).toContain('never passed verify')
  })

  it.each([
    'lock',
    'releases',
    'armWatchdog',
    'restart',
    'verify',
    'confirm',
    'releaseLock',
    'verifyLive'
  ] as const)(
    'a failure at %s ends each operation with the lock released and nothing left half-done',
    async verb => {
      for (const operation of ['rollback', 'restart', 'verify']) {
        const { calls, report } = await operate(operation, {
          fail: { [verb]: new Error(`${verb} broke`) }
        })
        if (verb === 'releaseLock') {
          expect(report.result).toBe('success')
          continue
        }
        if (!calls.includes(verb)) continue
        expect(report.result).toBe('failed')
        if (calls.includes('lock') && verb !== 'lock') expect(calls).toContain('releaseLock')
        expect(savedState().unverified ?? []).toEqual([])
      }
    }
  )
})

const KEPT_LIVE = KEPT.releases[1]

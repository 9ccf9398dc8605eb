/**
 * The main step and the post step from source, as actions/typescript-action tests an action: run()
 * with its inputs in INPUT_* variables and the runner's files (GITHUB_OUTPUT, GITHUB_STATE,
 * GITHUB_STEP_SUMMARY), against the fake host, for every operation. The main step with a failure
 * at each step: the exit code, the outputs, the summary and what the post step is left. The main
 * step cut off at each step (a cancelled or killed run), then the post step with the state it
 * left (STATE_* variables, as the runner passes it) and the host as the cut left it.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { run } from '../../src/entry/main.js'
import { run as post } from '../../src/entry/post-step.js'
import { PhaseError } from '../../src/model/phase.js'
import { parseOutputFile } from '../support/action.js'
import { FakeHost, KEPT, type FakeHostOptions, type Verb } from '../support/fake-host.js'
import { setActionInputs, TEST_SHA } from '../support/fixtures.js'
import { overlapStart, retirement, stepEnding } from '../support/step-log.js'
import { UndoneByHost } from '../../src/tasks/watchdog.js'

let key: string
let work: string
let saved: NodeJS.ProcessEnv

beforeAll(() => {
  const dir = mkdtempSync(join(tmpdir(), 'vsd-main-'))
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'key')])
  key = readFileSync(join(dir, 'key'), 'utf8')
  // One set of files for every run: @actions/core keeps the summary's path once it has written.
  work = mkdtempSync(join(tmpdir(), 'vsd-main-run-'))
})

let stdout: string
let signalHandlers: { SIGINT: number; SIGTERM: number }

beforeEach(() => {
  saved = { ...process.env }
  for (const file of ['output', 'state', 'summary']) writeFileSync(join(work, file), '')
  process.env.GITHUB_OUTPUT = join(work, 'output')
  process.env.GITHUB_STATE = join(work, 'state')
  process.env.GITHUB_STEP_SUMMARY = join(work, 'summary')
  stdout = ''
  jest.spyOn(process.stdout, 'write').mockImplementation(chunk => {
    stdout += String(chunk)
    return true
  })
  signalHandlers = {
    SIGINT: process.listenerCount('SIGINT'),
    SIGTERM: process.listenerCount('SIGTERM')
  }
})

afterEach(() => {
  jest.restoreAllMocks()
  process.env = saved
  process.exitCode = undefined
  // The main step's cancel handlers (cancel.ts): a run cut off here never removes its own.
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    for (const handler of process.listeners(signal).slice(signalHandlers[signal]))
      process.off(signal, handler)
})

const read = (file: string) => readFileSync(join(work, file), 'utf8')

/** Starts the main step with `inputs` against a fake host shaped by `options`. */
function startMain(inputs: Record<string, string>, options: FakeHostOptions = {}) {
  setActionInputs({ 'private-key': key, ...inputs })
  const hosts: FakeHost[] = []
  const done = run(async address => {
    const host = new FakeHost(address, {
      previous: { release: KEPT.releases[0].name, sha: KEPT.releases[0].sha },
      ...options
    })
    hosts.push(host)
    return host
  })
  return { done, calls: () => hosts[0]?.calls ?? [] }
}

/** Runs the main step with `inputs` against a fake host shaped by `options`. */
async function main(inputs: Record<string, string>, options: FakeHostOptions = {}) {
  const started = startMain(inputs, options)
  await started.done
  return {
    code: process.exitCode ?? 0,
    outputs: parseOutputFile(read('output')),
    state: parseOutputFile(read('state')),
    summary: read('summary'),
    calls: started.calls()
  }
}

/** Each operation, its inputs, and the verbs it asks of the host that can fail, in order. */
const OPERATIONS: [string, Record<string, string>, Verb[]][] = [
  [
    'deploy',
    { sha: TEST_SHA },
    ['lock', 'upload', 'armWatchdog', 'prepare', 'restart', 'verify', 'confirm']
  ],
  ['rollback', {}, ['lock', 'releases', 'armWatchdog', 'restart', 'verify', 'confirm']],
  ['restart', {}, ['lock', 'releases', 'restart', 'verify', 'confirm']],
  ['verify', { sha: KEPT.releases[1].sha }, ['releases', 'verifyLive']]
]

/** Where each operation can be cut off: every verb it asks, to the lock's release. */
const CUTS: [string, Verb, Record<string, string>][] = OPERATIONS.flatMap(
  ([operation, inputs, verbs]) =>
    [
      ...verbs,
      ...(operation === 'deploy' ? (['prune'] as Verb[]) : []),
      ...(operation === 'verify' ? [] : (['releaseLock'] as Verb[]))
    ].map(verb => [operation, verb, inputs] as [string, Verb, Record<string, string>])
)

describe('run(), the main step, from source', () => {
  it.each(OPERATIONS)(
    '%s: succeeds, with its outputs and summary, and leaves the post step nothing',
    async (operation, inputs) => {
      const result = await main({ operation, ...inputs })
      expect(result.code).toBe(0)
      expect(result.outputs.sha).toMatch(/^[0-9a-f]{40}$/)
      expect(JSON.parse(result.outputs.hosts)[0].result).toBe('success')
      expect(result.summary).toMatch(/Deployed to|Rolled back on|Restarted on|Verified on/)
      // Every key the post step reads was written first, and is empty now.
      expect(result.state).toMatchObject({ unverified: '[]', restarts: '[]', locks: '[]' })
    }
  )

  it.each(
    OPERATIONS.flatMap(([operation, inputs, verbs]) =>
      verbs.map(verb => [operation, inputs, verb] as [string, Record<string, string>, Verb])
    )
  )(
    '%s with a failure at %s: exit 1, the failure in the summary, the lock released',
    async (operation, inputs, verb) => {
      const failure =
        verb === 'restart'
          ? new PhaseError('a.example:22', 'start', 'start broke')
          : new Error(`${verb} broke`)
      const result = await main({ operation, ...inputs }, { fail: { [verb]: failure } })
      expect(result.code).toBe(1)
      expect(JSON.parse(result.outputs.hosts)[0].result).toBe('failed')
      expect(result.summary).toMatch(/broke/)
      if (result.calls.includes('lock') && verb !== 'lock')
        expect(result.calls).toContain('releaseLock')
      expect(result.state.unverified).toBe('[]')
    }
  )
})

/** The main step cut off at `verb`: the state it left the post step, as the runner passes it. */
async function cutOff(
  inputs: Record<string, string>,
  verb: Verb,
  options: FakeHostOptions = {}
): Promise<Record<string, string>> {
  const started = startMain(inputs, { ...options, hang: verb })
  const deadline = Date.now() + 5000
  while (!started.calls().some(call => call.startsWith(verb))) {
    if (Date.now() > deadline) throw new Error(`the main step never asked ${verb}`)
    await new Promise(resolve => setTimeout(resolve, 1))
  }
  return parseOutputFile(read('state'))
}

/** Runs the post step with `state` against a fake host shaped by `options`: the calls and the log. */
async function postStep(state: Record<string, string>, options: FakeHostOptions = {}) {
  for (const [name, value] of Object.entries(state)) process.env[`STATE_${name}`] = value
  stdout = ''
  const hosts: FakeHost[] = []
  await post(async (address, _settings, phase) => {
    expect(phase).toBe('post')
    const host = new FakeHost(address, options)
    hosts.push(host)
    return host
  })
  return { calls: hosts.flatMap(host => host.calls), log: stdout, code: process.exitCode ?? 0 }
}

/** The release a run's state left unverified, if any. */
const unverifiedOf = (state: Record<string, string>) =>
  (JSON.parse(state.unverified || '[]') as { release: string; fallback?: { release: string } }[])[0]

describe('the post step, from source, after the main step was cut off', () => {
  it.each(CUTS)(
    '%s cut off at %s: finishes it from the state it left, the restart having ended well',
    async (operation, verb, inputs) => {
      const state = await cutOff({ operation, ...inputs }, verb)
      const unverified = unverifiedOf(state)
      const locks = JSON.parse(state.locks || '[]') as unknown[]
      const result = await postStep(state, {
        restartLog: unverified && stepEnding(unverified.release, 'finished')
      })
      expect(result.code).toBe(0)
      // A release switched to and not yet verified is the cut-off run's work: the post step
      // verifies it, and the deploy's prune runs then too; the lock goes last, on every path.
      const finish = unverified
        ? [
            'heartbeat',
            'undoneByHost',
            'awaitStep',
            'verify',
            'confirm',
            // Only a deploy prunes, and has a release of its own to remove if it is not live.
            ...(operation === 'deploy'
              ? ['releases', 'prune', `discard ${unverified.release} (if the journal says so)`]
              : []),
            'heartbeat stopped',
            'close'
          ]
        : []
      const release = locks.length > 0 ? ['releaseLock (post step)', 'close'] : []
      expect(result.calls).toEqual([...finish, ...release])
      // Only verify takes no lock; every other cut leaves one to release.
      expect(locks.length > 0).toBe(operation !== 'verify')
      expect(unverified !== undefined).toBe(['restart', 'verify', 'confirm'].includes(verb))
      if (unverified) {
        expect(result.log).toMatch(/the post step verified \S+: it serves [0-9a-f]{40}/)
        // Titled and worded for the operation that was cut off.
        const cut = operation === 'deploy' ? 'deploy to' : `${operation} on`
        expect(result.log).toMatch(new RegExp(`::notice title=Cancelled ${operation}::The ${cut} `))
      }
    }
  )

  const RELEASE_HOW: [string, FakeHostOptions, RegExp, string[]][] = [
    [
      'a start that failed: rolls back to the release that was live',
      { restartLog: 'failed-start' },
      /failed its check\.%0Astart: .*Rolled back to 20261130T000000Z-aaaaaaa/,
      ['rollback']
    ],
    [
      'a release that fails verify: rolls back',
      { restartLog: 'finished', fail: { verify: new Error('it reports another commit') } },
      /failed its check\.%0Averify: it reports another commit%0ARolled back/,
      ['verify', 'rollback']
    ],
    [
      'the host killed its step halfway: leaves it, nothing to build on',
      { restartLog: 'killed' },
      /step was killed before it finished \(during wait-for-exit/,
      []
    ],
    [
      'a step that has not finished: leaves it',
      { restartLog: 'unfinished' },
      /step has not finished after \d+ s/,
      []
    ],
    [
      'a step that failed before the new release started: reports it, no rollback',
      { restartLog: 'failed-wait' },
      /failed in wait-for-exit, before \S+ was started/,
      []
    ],
    [
      "the host's watchdog undid it already: reports what it did, reads nothing else",
      { undone: { undone: true, text: 'The host undid it by itself.' } },
      /was cut off\. The host undid it by itself\./,
      []
    ],
    [
      'the watchdog took over while the post step verified: reports it',
      {
        restartLog: 'finished',
        fail: {
          confirm: new UndoneByHost('a.example:22', 'verify', {
            undone: true,
            text: 'The host undid it first.'
          })
        }
      },
      /was cut off\. The host undid it first\./,
      ['verify']
    ]
  ]

  it.each(RELEASE_HOW)(
    'deploy cut off at verify, then %s',
    async (_name, { restartLog: how, ...options }, message, asked) => {
      const state = await cutOff({ sha: TEST_SHA }, 'verify')
      const { release } = unverifiedOf(state)
      const result = await postStep(state, {
        ...options,
        restartLog: how && stepEnding(release, how as Parameters<typeof stepEnding>[1])
      })
      expect(result.code).toBe(0)
      expect(result.log).toMatch(message)
      for (const verb of ['verify', 'rollback'])
        expect(result.calls.some(call => call.startsWith(verb))).toBe(asked.includes(verb))
      // Once the outcome is known the cut-off run's release goes (if not live); else it stays.
      expect(result.calls.some(call => call.startsWith('discard'))).toBe(
        !/killed|not finished/.test(String(message))
      )
      expect(result.calls.slice(-2)).toEqual(['releaseLock (post step)', 'close'])
    }
  )

  it('a rollback cut off at verify, whose target fails: returns to the release that was live', async () => {
    const state = await cutOff({ operation: 'rollback' }, 'verify')
    const entry = unverifiedOf(state)
    expect(entry.release).toBe(KEPT.releases[0].name)
    expect(entry.fallback?.release).toBe(KEPT.live)
    const result = await postStep(state, {
      restartLog: stepEnding(entry.release, 'finished'),
      fail: { verify: new Error('no answer') }
    })
    expect(result.calls).toContain('rollback (verify: no answer)')
    expect(result.log).toMatch(/rolling back to 20261201T000000Z-bbbbbbb/)
  })

  it('a restart cut off at verify, whose service fails: nothing to return to, left as is', async () => {
    const state = await cutOff({ operation: 'restart' }, 'verify')
    const result = await postStep(state, {
      restartLog: stepEnding(unverifiedOf(state).release, 'finished'),
      fail: { verify: new Error('no answer') }
    })
    expect(result.calls.some(call => call.startsWith('rollback'))).toBe(false)
    expect(result.log).toMatch(/there is no release to roll back to, so it was left as is/)
  })

  describe('overlap: the new release beside the old one', () => {
    const OVERLAP = { sha: TEST_SHA, ports: '8000', 'hold-ports': 'true', overlap: 'true' }
    const besideVerbs = (calls: string[]) =>
      calls.filter(call => /^(verify|retire|withdraw|rollback|confirm)/.test(call))

    it('cut off while it answered beside the old service: verifies it, retires the old one, verifies again', async () => {
      const state = await cutOff(OVERLAP, 'verify')
      const result = await postStep(state, {
        restartLog: overlapStart(unverifiedOf(state).release, 'finished')
      })
      expect(besideVerbs(result.calls)).toEqual([
        'verify beside the old service',
        'retire',
        'verify',
        'confirm'
      ])
      expect(result.log).toMatch(/the post step verified \S+: it serves [0-9a-f]{40}/)
    })

    it('cut off after a start that failed beside the old service: withdraws it, nothing rolled back', async () => {
      const state = await cutOff(OVERLAP, 'verify')
      const result = await postStep(state, {
        restartLog: overlapStart(unverifiedOf(state).release, 'failed-start')
      })
      expect(besideVerbs(result.calls)).toEqual([
        expect.stringMatching(/^withdraw \(start: .*exited with code 1/)
      ])
      expect(result.log).toMatch(/failed beside the old service \(overlap\)/)
      expect(result.log).toMatch(/the old service was never stopped and still serves/)
    })

    it('a new release that fails its check beside the old service is withdrawn, not rolled back', async () => {
      const state = await cutOff(OVERLAP, 'verify')
      const result = await postStep(state, {
        restartLog: overlapStart(unverifiedOf(state).release, 'finished'),
        failBeside: new Error('gave no commit')
      })
      expect(besideVerbs(result.calls)).toEqual([
        'verify beside the old service',
        'withdraw (verify: gave no commit)'
      ])
    })

    it('cut off once the old service was retired: verifies the new one alone', async () => {
      const state = await cutOff(OVERLAP, 'retire')
      const result = await postStep(state, {
        restartLog: retirement(unverifiedOf(state).release)
      })
      expect(besideVerbs(result.calls)).toEqual(['verify', 'confirm'])
    })
  })

  it('a host it cannot reach: a warning, and the other work still done; never a failed job', async () => {
    const state = await cutOff({ sha: TEST_SHA }, 'verify')
    const result = await postStep(state, {
      restartLog: 'not read',
      fail: { undoneByHost: new Error('connection reset') }
    })
    expect(result.code).toBe(0)
    expect(result.log).toMatch(
      /::warning::The post step could not finish the deploy to a\.example: connection reset/
    )
    expect(result.calls.slice(-2)).toEqual(['releaseLock (post step)', 'close'])
  })

  it('does nothing, and connects nowhere, when the main step finished', async () => {
    const { state } = await main({ sha: TEST_SHA })
    expect(await postStep(state)).toMatchObject({ calls: [], code: 0 })
  })
})

/**
 * The main step from source, as actions/typescript-action tests an action: run() with its inputs
 * in INPUT_* variables and the runner's files (GITHUB_OUTPUT, GITHUB_STATE, GITHUB_STEP_SUMMARY),
 * against the fake host, for every operation, with a failure at each step: the exit code, the
 * outputs, the summary and what the post step is left.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { run } from '../../src/main.js'
import { PhaseError } from '../../src/phase.js'
import { parseOutputFile } from '../support/action.js'
import { FakeHost, KEPT, TARGET, type FakeHostOptions, type Verb } from '../support/fake-host.js'
import { sourceTree, TEST_SHA } from '../support/fixtures.js'

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

beforeEach(() => {
  saved = { ...process.env }
  for (const file of ['output', 'state', 'summary']) writeFileSync(join(work, file), '')
  process.env.GITHUB_OUTPUT = join(work, 'output')
  process.env.GITHUB_STATE = join(work, 'state')
  process.env.GITHUB_STEP_SUMMARY = join(work, 'summary')
  jest.spyOn(process.stdout, 'write').mockImplementation(() => true)
})

afterEach(() => {
  jest.restoreAllMocks()
  process.env = saved
  process.exitCode = undefined
})

/** Runs the main step with `inputs` against a fake host shaped by `options`. */
async function main(inputs: Record<string, string>, options: FakeHostOptions = {}) {
  const all: Record<string, string> = {
    host: 'a.example',
    username: 'deploy',
    'private-key': key,
    source: sourceTree(),
    target: TARGET,
    'start-command': 'python3 -m app serve',
    'version-url': 'http://127.0.0.1:8000/version',
    ...inputs
  }
  for (const [name, value] of Object.entries(all))
    process.env[`INPUT_${name.toUpperCase()}`] = value
  const hosts: FakeHost[] = []
  await run(async address => {
    const host = new FakeHost(address, {
      previous: { release: KEPT.releases[0].name, sha: KEPT.releases[0].sha },
      ...options
    })
    hosts.push(host)
    return host
  })
  const read = (file: string) => readFileSync(join(work, file), 'utf8')
  return {
    code: process.exitCode ?? 0,
    outputs: parseOutputFile(read('output')),
    state: parseOutputFile(read('state')),
    summary: read('summary'),
    calls: hosts[0]?.calls ?? []
  }
}

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

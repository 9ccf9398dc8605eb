import { afterAll, afterEach, beforeAll } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { cpSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { runAction, type ActionRun } from './action.js'
import { dryRunInputs } from './fixtures.js'
import { killServiceOnPort, killTargetProcesses, SERVICE_DIR, startCommand } from './service.js'
import { freePort, startSshd, type TestSshd } from './sshd.js'

const servicePorts: number[] = []

/**
 * Inputs for a real deploy of `source` to `target`: the test service (added to the source) is
 * started on a free port and verified there, with no stable-for wait unless a test asks for one.
 */
export async function deployInputs(
  sshd: TestSshd,
  source: string,
  target: string,
  overrides: Record<string, string> = {},
  serviceFlags = ''
): Promise<Record<string, string>> {
  if (!existsSync(join(source, 'vsdsvc')))
    cpSync(join(SERVICE_DIR, 'vsdsvc'), join(source, 'vsdsvc'), { recursive: true })
  const port = await freePort()
  servicePorts.push(port)
  return {
    ...dryRunInputs(sshd, source),
    'dry-run': 'false',
    target,
    'start-command': startCommand(port, serviceFlags),
    ports: String(port),
    'version-url': `http://127.0.0.1:${port}/version`,
    'version-timeout': '30',
    'stable-for': '0',
    // The running service would otherwise write __pycache__ into the trees the tests compare.
    env: 'PYTHONDONTWRITEBYTECODE=1',
    ...overrides
  }
}

/**
 * Targets whose processes (the service's, and the port holder's) are killed after the file's
 * tests: push each target a test deploys to.
 */
export function killedAfterAll(): string[] {
  const targets: string[] = []
  afterAll(() => targets.forEach(killTargetProcesses))
  return targets
}

/** Kills every test service this file's deploys started (for afterAll/afterEach). */
export function stopTestServices(): void {
  servicePorts.splice(0).forEach(killServiceOnPort)
}

/**
 * One real sshd for the calling test file, started before its tests and handed to `started`.
 * The test services its deploys start are stopped after all its tests (or after each one), then
 * the sshd.
 */
export function useSshd(
  started: (sshd: TestSshd) => void,
  options: { stopServicesAfterEach?: boolean } = {}
): void {
  let sshd: TestSshd | undefined
  beforeAll(async () => {
    sshd = await startSshd()
    started(sshd)
  })
  if (options.stopServicesAfterEach) afterEach(stopTestServices)
  afterAll(async () => {
    stopTestServices()
    await sshd?.stop()
  })
}

/** Runs the bundle and fails the test with the log when the exit code is not the expected one. */
export async function deploy(inputs: Record<string, string>, expectedCode = 0): Promise<ActionRun> {
  const result = await runAction(inputs)
  if (result.code !== expectedCode) {
    throw new Error(
      `expected exit ${expectedCode}, got ${result.code ?? result.signal}\n${result.stdout}\n${result.stderr}`
    )
  }
  return result
}

/** The first `::error` message of a run, decoded. */
export function failureMessage(result: ActionRun): string {
  const line = result.stdout.split('\n').find(text => text.startsWith('::error')) ?? ''
  return line
    .replace(/^::error[^:]*::/, '')
    .replace(/%0A/g, '\n')
    .replace(/%0D/g, '\r')
    .replace(/%25/g, '%')
}

/**
 * The job summary's first lines about the first host, as a reader meets them: its row of the
 * table, then under its heading the phase times and the failure's first line.
 */
export function summaryHead(summary: string): { row: string; times: string; message: string } {
  const lines = summary.split('\n').filter(line => line.trim())
  const heading = lines.findIndex(line => line.startsWith('<h3>'))
  const row = /<tr><td>.*?<\/tr>/.exec(lines.find(line => line.startsWith('<table>')) ?? '')
  return { row: row?.[0] ?? '', times: lines[heading + 1] ?? '', message: lines[heading + 2] ?? '' }
}

/** Where `current` points, relative to target. */
export function currentRelease(target: string): string {
  return execFileSync('readlink', [join(target, 'current')], { encoding: 'utf8' }).trim()
}

/** Resolves once `check` holds, polling; throws with `what` after `timeoutMs`. */
export async function eventually(
  what: string,
  timeoutMs: number,
  check: () => Promise<boolean>
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return
    await new Promise(resolve => setTimeout(resolve, 500))
  }
  throw new Error(`not within ${timeoutMs / 1000} s: ${what}`)
}

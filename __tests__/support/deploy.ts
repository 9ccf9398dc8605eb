import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { runAction, type ActionRun } from './action.js'
import { dryRunInputs } from './fixtures.js'
import type { TestSshd } from './sshd.js'

/** Inputs for a real deploy of `source` to `target` on the test sshd. */
export function deployInputs(
  sshd: TestSshd,
  source: string,
  target: string,
  overrides: Record<string, string> = {}
): Record<string, string> {
  // A start command that stays up for a while; tests that need a real service override it.
  return {
    ...dryRunInputs(sshd, source),
    'dry-run': 'false',
    target,
    'start-command': 'sleep 60',
    ...overrides
  }
}

/** Runs the bundle and fails the test with the log when the exit code is not the expected one. */
export async function deploy(inputs: Record<string, string>, expectedCode = 0): Promise<ActionRun> {
  const result = await runAction(inputs)
  if (result.code !== expectedCode) {
    throw new Error(
      `expected exit ${expectedCode}, got ${result.code}\n${result.stdout}\n${result.stderr}`
    )
  }
  return result
}

/** The `::error::` message of a failed run, decoded. */
export function failureMessage(result: ActionRun): string {
  const line = result.stdout.split('\n').find(text => text.startsWith('::error')) ?? ''
  return line
    .replace(/^::error[^:]*::/, '')
    .replace(/%0A/g, '\n')
    .replace(/%0D/g, '\r')
    .replace(/%25/g, '%')
}

/** Where `current` points, relative to target. */
export function currentRelease(target: string): string {
  return execFileSync('readlink', [join(target, 'current')], { encoding: 'utf8' }).trim()
}

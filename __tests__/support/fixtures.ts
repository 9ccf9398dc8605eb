import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestSshd } from './sshd.js'

export const TEST_SHA = '0123456789abcdef0123456789abcdef01234567'

/** A small source tree to point `source` at. */
export function sourceTree(): string {
  const dir = mkdtempSync(join(tmpdir(), 'vsd-src-'))
  writeFileSync(join(dir, 'app.py'), 'print("hello")\n')
  return dir
}

/** Inputs for a dry run against `sshd` with the ed25519 key and a pinned host key. */
export function dryRunInputs(sshd: TestSshd, source: string): Record<string, string> {
  return {
    host: `${sshd.host}:${sshd.port}`,
    username: sshd.user,
    'private-key': sshd.keys.ed25519.text,
    'known-hosts': sshd.knownHosts.ed25519,
    source,
    target: join(sshd.dir, 'srv', 'app'),
    'start-command': 'python3 -m app serve',
    'version-url': 'http://127.0.0.1:8000/version',
    sha: TEST_SHA,
    'dry-run': 'true'
  }
}

/** A deploy lock as the main step saves it for the post step (`HeldLock`). */
export const SAMPLE_LOCK = {
  host: 'h',
  port: 22,
  username: 'u',
  lockDir: '/srv/app/.deploy/lock',
  token: 't',
  restartLog: '/srv/app/.deploy/restart.log'
}

/** Settings reader over a plain record, as `core.getInput` would answer. */
export function inputReader(inputs: Record<string, string>): (name: string) => string {
  return name => inputs[name] ?? ''
}

/**
 * Sets the action's inputs as the runner does (INPUT_* variables), over a fake host's defaults:
 * for run() of the main step or the post step from source.
 */
export function setActionInputs(inputs: Record<string, string>): void {
  const all: Record<string, string> = {
    host: 'a.example',
    username: 'deploy',
    source: sourceTree(),
    target: '/srv/app',
    'start-command': 'python3 -m app serve',
    'version-url': 'http://127.0.0.1:8000/version',
    ...inputs
  }
  for (const [name, value] of Object.entries(all))
    process.env[`INPUT_${name.toUpperCase()}`] = value
}

import { describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, utimesSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { deploy, deployInputs, useSshd } from '../support/deploy.js'
import { DEBIAN_PYTHON } from '../support/service.js'
import { type TestSshd } from '../support/sshd.js'
import { write } from '../support/tree.js'

let sshd: TestSshd
useSshd(started => (sshd = started))

/** The same size and the same whole-second mtime for v1 and v2, as tar and reproducible checkouts give. */
const FIXED_MTIME = new Date('2026-01-02T03:04:05Z')

function writeGreeting(source: string, version: 'v1' | 'v2'): void {
  write(source, 'greeting.py', `MESSAGE = "${version}"\n`)
  utimesSync(join(source, 'greeting.py'), FIXED_MTIME, FIXED_MTIME)
}

/**
 * Imports greeting on the host (this machine) from `dir` as the deploy user, as the service would;
 * leaves a pyc behind.
 */
function importOnHost(dir: string): string {
  return execFileSync(DEBIAN_PYTHON, ['-c', 'import greeting; print(greeting.MESSAGE)'], {
    ...sshd.asDeployUser,
    cwd: dir,
    encoding: 'utf8',
    env: { PATH: '/usr/bin:/bin' }
  }).trim()
}

async function deployTwice(
  strategy: string,
  clearPycache: string
): Promise<{ live: string; before: string; after: string }> {
  const source = mkdtempSync(join(tmpdir(), 'vsd-greeting-'))
  const target = join(sshd.dir, `${strategy}-${clearPycache}`)
  const live = strategy === 'releases' ? join(target, 'current') : target
  const inputs = await deployInputs(sshd, source, target, {
    strategy,
    'clear-pycache': clearPycache
  })
  writeGreeting(source, 'v1')
  await deploy(inputs)
  const before = importOnHost(live)
  expect(existsSync(join(live, '__pycache__'))).toBe(true)
  writeGreeting(source, 'v2')
  await deploy(inputs)
  if (strategy === 'releases') expect(existsSync(join(live, '__pycache__'))).toBe(false)
  return { live, before, after: importOnHost(live) }
}

describe('stale bytecode', () => {
  it('the trap is real: in place without clearing, the old pyc of a same-size same-mtime edit still wins', async () => {
    const { before, after } = await deployTwice('in-place', 'false')
    expect(before).toBe('v1')
    expect(after).toBe('v1')
  })

  it.each(['in-place', 'releases'])(
    'with clear-pycache, %s serves the new code',
    async strategy => {
      const { before, after } = await deployTwice(strategy, 'true')
      expect(before).toBe('v1')
      expect(after).toBe('v2')
    }
  )

  it('releases never carry __pycache__ over from the previous release, even without clearing', async () => {
    const { after } = await deployTwice('releases', 'false')
    expect(after).toBe('v2')
  })
})

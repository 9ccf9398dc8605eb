/**
 * The project's own scripts (scripts/*.sh) pass shellcheck; and scripts/setup.sh, which
 * `npm run demo`, `npm test` and .ci/run start with, names what is missing and the one command
 * that installs it when it cannot install (not root, or no apt-get). Run here with a PATH that
 * lacks git, so nothing is installed. (release.sh: release-script.test.ts.)
 */
import { describe, expect, it } from '@jest/globals'
import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, mkdtempSync, readdirSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PROJECT_ROOT } from '../support/action.js'
import { DEBIAN_PYTHON } from '../support/service.js'

const SCRIPT = join(PROJECT_ROOT, 'scripts/setup.sh')

/** A PATH directory, readable by anyone, with `tools` only (each linked to its binary). */
function pathWith(tools: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'vsd-setup-'))
  chmodSync(dir, 0o755)
  for (const tool of tools) {
    // Debian's python3: a pyenv shim under /root is not the other user's to run.
    const real =
      tool === 'python3'
        ? DEBIAN_PYTHON
        : execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim()
    symlinkSync(real, join(dir, tool))
  }
  return dir
}

/** Runs the script as a user that is not root (nobody) when this runs as root. */
function setup(what: string, path: string) {
  const setpriv = execFileSync('sh', ['-c', 'command -v setpriv'], { encoding: 'utf8' }).trim()
  const asUser =
    process.getuid?.() === 0 ? [setpriv, '--reuid=65534', '--regid=65534', '--clear-groups'] : []
  const [command, ...args] = [...asUser, '/bin/sh', SCRIPT, what]
  return spawnSync(command, args, { encoding: 'utf8', env: { PATH: path } })
}

const BASICS = ['sh', 'id', 'readlink', 'python3', 'ssh-keygen', 'ssh-keyscan', 'setsid']

// The project's own shell scripts (setup.sh, release.sh): POSIX sh, as the host scripts are.
for (const name of readdirSync(join(PROJECT_ROOT, 'scripts')).filter(file =>
  file.endsWith('.sh')
)) {
  it(`scripts/${name} passes shellcheck (POSIX sh)`, () => {
    const result = spawnSync('shellcheck', ['--shell=sh', join(PROJECT_ROOT, 'scripts', name)], {
      encoding: 'utf8'
    })
    expect(result.stdout).toBe('')
    expect(result.status).toBe(0)
  })
}

describe('scripts/setup.sh', () => {
  it('not root: names what the demo lacks and the one apt-get command that installs it', () => {
    const result = setup('demo', pathWith([...BASICS, 'apt-get']))
    expect(result.status).toBe(1)
    expect(result.stderr).toMatch(
      /^npm run demo needs: (.* )?git( .*)?\. Install them with: sudo apt-get install -y (.* )?git( |$)/m
    )
  })

  it('no apt-get: names the packages and says to use the system’s package manager', () => {
    const result = setup('demo', pathWith(BASICS))
    expect(result.status).toBe(1)
    expect(result.stderr).toMatch(
      /^npm run demo needs these Debian packages \(or your system's equivalents\): (.* )?git( |:|\.)/m
    )
  })

  it('refuses a mode it does not know', () => {
    const result = spawnSync('sh', [SCRIPT, 'everything'], { encoding: 'utf8' })
    expect(result.status).toBe(2)
    expect(result.stderr).toContain('usage: sh scripts/setup.sh demo|unit|test')
  })

  it('with everything there (this machine, set up by .ci/run), it only looks', () => {
    const result = spawnSync('sh', [SCRIPT, 'test'], { encoding: 'utf8' })
    expect(result.stdout + result.stderr).toBe('')
    expect(result.status).toBe(0)
  })
})

/**
 * Deploy users made for a test: each with a login shell, start-up files, and the test sshd's
 * client key authorised (the sshd needs `AuthorizedKeysFile .ssh/authorized_keys`). Not locked
 * (`usermod -p '*'`), so sshd lets them log in with a key. Removed, with every process of theirs
 * (each is the test's own user, so nothing else is signalled), by `remove`.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { TestSshd } from './sshd.js'

export interface TestUser {
  name: string
  home: string
  remove(): void
}

export function createUser(
  sshd: TestSshd,
  prefix: string,
  shell: string,
  files: Record<string, string> = {}
): TestUser {
  const name = `${prefix}${randomBytes(3).toString('hex')}`.slice(0, 30)
  execFileSync('useradd', ['-m', '-s', shell, name])
  execFileSync('usermod', ['-p', '*', name])
  const home = `/home/${name}`
  const all: Record<string, string> = {
    ...files,
    '.ssh/authorized_keys': execFileSync('ssh-keygen', ['-y', '-f', sshd.keys.ed25519.path], {
      encoding: 'utf8'
    })
  }
  for (const [path, text] of Object.entries(all)) {
    mkdirSync(dirname(join(home, path)), { recursive: true })
    writeFileSync(join(home, path), text)
  }
  execFileSync('chown', ['-R', `${name}:${name}`, home])
  return {
    name,
    home,
    remove: () => {
      spawnSync('pkill', ['-KILL', '-u', name])
      spawnSync('userdel', ['-r', '-f', name], { stdio: 'ignore' })
    }
  }
}

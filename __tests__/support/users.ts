/**
 * Users made for a test. Not locked (`usermod -p '*'`), so sshd lets them log in with a key.
 * Removed, with every process of theirs (each is the test's own user, so nothing else is
 * signalled), by `remove`.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import type { TestSshd } from './sshd.js'

export interface TestUser {
  name: string
  home: string
  remove(): void
}

/**
 * Adds a user with this login shell and a home holding only `files` (no /etc/skel dotfiles).
 * Test files add users in parallel, and useradd refuses while another holds the lock on
 * /etc/passwd: it is tried again then.
 */
function addUser(prefix: string, shell: string, files: Record<string, string>): TestUser {
  const name = `${prefix}${randomBytes(3).toString('hex')}`.slice(0, 30)
  const skel = mkdtempSync(join(tmpdir(), 'vsd-skel-'))
  try {
    for (let attempt = 1; ; attempt++) {
      const added = spawnSync('useradd', ['-m', '-k', skel, '-s', shell, name], {
        encoding: 'utf8'
      })
      if (added.status === 0) break
      if (attempt >= 20 || !/lock/i.test(added.stderr))
        throw new Error(`useradd ${name} failed: ${added.stderr}`)
      execFileSync('sleep', ['0.2'])
    }
  } finally {
    rmSync(skel, { recursive: true, force: true })
  }
  execFileSync('usermod', ['-p', '*', name])
  const home = `/home/${name}`
  for (const [path, text] of Object.entries(files)) {
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

/**
 * The deploy user a test sshd logs in as (the sshd's own authorized_keys file serves every user):
 * /bin/sh with no start-up files, so a login is fast and silent whatever root's dotfiles run (a
 * `pyenv init` cut mid-rehash leaves a lock that slows every later login of its user), and every
 * process a deploy starts is this user's alone.
 */
export function createDeployUser(): TestUser {
  return addUser('vsddeploy', '/bin/sh', {})
}

/**
 * A user with this login shell and these start-up files, and the test sshd's client key in its
 * own ~/.ssh/authorized_keys (the sshd needs `AuthorizedKeysFile .ssh/authorized_keys`).
 */
export function createUser(
  sshd: TestSshd,
  prefix: string,
  shell: string,
  files: Record<string, string> = {}
): TestUser {
  return addUser(prefix, shell, {
    ...files,
    '.ssh/authorized_keys': execFileSync('ssh-keygen', ['-y', '-f', sshd.keys.ed25519.path], {
      encoding: 'utf8'
    })
  })
}

/**
 * What reaches the host: one fixed exec request that every common login shell runs the same way,
 * and the script on stdin, so no command line on the host carries the script, the user's commands
 * or their values (a user's `pkill -f` could match them there).
 */
import { describe, expect, it } from '@jest/globals'
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { text } from 'node:stream/consumers'
import { EXEC_REQUEST, scriptInput } from '../../src/remote.js'
import { userCommandScript } from '../../src/phases/environment.js'
import { noShellError } from '../../src/phases/connect.js'
import { RemoteCommandError } from '../../src/remote.js'
import { sh, shFromEnvironment, ShellCode } from '../../src/shell.js'

const LOGIN_SHELLS: Record<string, string[]> = {
  dash: ['dash'],
  bash: ['bash'],
  zsh: ['zsh'],
  fish: ['fish'],
  tcsh: ['tcsh'],
  'busybox ash': ['busybox', 'sh']
}

const token = `SECRET${randomBytes(6).toString('hex')}`
// Hostile: quotes of both kinds, $(…), a backslash and a newline, around a token to look for.
const hostile = `it's "${token}" $(echo no) \\' \n next line`

/** A script as the phases build them: a value, a user command, a detached-style step, stdin data. */
const script = sh`printf 'value=%s\n' ${hostile}
IFS= read -r line; printf 'stdin=%s\n' "$line"
${userCommandScript(`echo user; : ${quote(hostile)}`)}
${shFromEnvironment('VERIFIED_SSH_DEPLOY_TEST', `echo step; : ${quote(hostile)}`)}
echo "marker=$VERIFIED_SSH_DEPLOY_CONTROL"`

function quote(value: string): string {
  return sh`${value}`.text
}

/** Runs the exec request as sshd does (`SHELL -c REQUEST`), under strace; returns output and every argv. */
async function runAsLoginShell(shell: string[], command: ShellCode, data: string) {
  const trace = join(mkdtempSync(join(tmpdir(), 'vsd-trace-')), 'trace')
  const input = await text(scriptInput(command, Buffer.from(data)))
  const run = spawnSync(
    'strace',
    ['-f', '-qq', '-s', '100000', '-e', 'trace=execve', '-o', trace, ...shell, '-c', EXEC_REQUEST],
    { input, encoding: 'utf8' }
  )
  return { ...run, execs: readFileSync(trace, 'utf8') }
}

describe('the exec request', () => {
  it('is one fixed line with no backslash and one single-quoted word', () => {
    expect(EXEC_REQUEST).not.toMatch(/[\\\n]/)
    expect(EXEC_REQUEST.split("'")).toHaveLength(3)
  })

  it.each(Object.entries(LOGIN_SHELLS))(
    'runs the script from stdin under %s as login shell, with nothing of it in any argv',
    async (_name, shell) => {
      const run = await runAsLoginShell(shell, script, 'data after the script\nmore\n')
      expect(run.stderr).toBe('')
      expect(run.stdout).toBe(
        `value=${hostile}\nstdin=data after the script\nuser\nstep\nmarker=1\n`
      )
      expect(run.execs).toContain('/bin/sh')
      expect(run.execs).not.toContain(token)
    }
  )

  it('does not leave the variable a user command came in to that command', async () => {
    const probe = sh`${userCommandScript('env')}`
    const run = await runAsLoginShell(['dash'], probe, '')
    expect(run.stdout).not.toMatch(/VERIFIED_SSH_DEPLOY_COMMAND/)
  })
})

describe('a host without /bin/sh', () => {
  it('gets an error in connect that names /bin/sh and the fix', () => {
    const error = noShellError(
      'web1:22',
      new RemoteCommandError(
        'connect',
        127,
        "/usr/bin/env: '/bin/sh': No such file or directory\n",
        'x'
      )
    )
    expect(error?.message).toBe(
      "web1:22 could not start /bin/sh (/usr/bin/env: '/bin/sh': No such file or directory). The action runs every command on the host under /bin/sh, whatever the login shell is: make /bin/sh a POSIX shell there (dash, bash or busybox ash)."
    )
    expect(
      noShellError('web1:22', new RemoteCommandError('connect', 1, 'other', 'x'))
    ).toBeUndefined()
  })
})

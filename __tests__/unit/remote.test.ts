/**
 * What reaches the host: one fixed exec request that every common login shell runs the same way,
 * starting the action's one shell (session.sh), which takes every command as a frame on its stdin.
 * No command line on the host carries a script, the user's commands or their values (a user's
 * `pkill -f` could match them there), and whatever the login shell prints is told apart from the
 * commands' own output.
 */
import { describe, expect, it } from '@jest/globals'
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import fc from 'fast-check'
import type { ClientChannel } from 'ssh2'
import { userCommandScript } from '../../src/commands/environment.js'
import { noShellError } from '../../src/tasks/connect.js'
import {
  EXEC_REQUEST,
  HostShell,
  RemoteCommandError,
  type ExecRequest
} from '../../src/remote/remote.js'
import { sh } from '../../src/remote/shell.js'
import { hostLibrary } from '../../src/remote/host-library.js'

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
const script = sh`${hostLibrary()}
printf 'value=%s\n' ${hostile}
IFS= read -r line; printf 'stdin=%s\n' "$line"
${userCommandScript({ environment: sh`export A=1`, command: `echo user; : ${sh`${hostile}`.text}` })}
(exec_script ${`echo step; : ${sh`${hostile}`.text}`})
echo "marker=$VERIFIED_SSH_DEPLOY_CONTROL"`

/** A child process as the channel of an exec request (ssh2's ClientChannel, as far as HostShell uses it). */
function channelOf(child: ChildProcess): ClientChannel {
  const channel = Object.assign(new EventEmitter(), {
    stderr: child.stderr,
    write: (data: string | Buffer) => child.stdin?.write(data),
    end: () => child.stdin?.end(),
    signal: (name: string) => child.kill(`SIG${name}` as NodeJS.Signals),
    close: () => child.kill('SIGKILL')
  })
  child.stdout?.on('data', chunk => channel.emit('data', chunk))
  child.on('exit', code => channel.emit('exit', code))
  child.on('close', () => channel.emit('close'))
  child.stdin?.on('error', () => undefined)
  return channel as unknown as ClientChannel
}

/**
 * The exec request run as sshd runs it (`SHELL -c REQUEST`), optionally under strace recording
 * every argv; `prelude` runs first in the login shell, as a start-up file would.
 */
function localExec(
  shell: string[],
  options: { trace?: string; prelude?: string; innerSh?: string } = {}
): ExecRequest {
  return (command, callback) => {
    const request = options.innerSh ? command.replace('/bin/sh', options.innerSh) : command
    const login = options.prelude
      ? ['sh', '-c', `${options.prelude}; exec "$@"`, 'login', ...shell, '-c', request]
      : [...shell, '-c', request]
    const argv = options.trace
      ? ['strace', '-f', '-qq', '-s', '100000', '-e', 'trace=execve', '-o', options.trace, ...login]
      : login
    callback(undefined, channelOf(spawn(argv[0], argv.slice(1), { stdio: 'pipe' })))
  }
}

const run = (
  shell: HostShell,
  command = script,
  stdin?: Buffer | PassThrough,
  timeoutSeconds = 10
) => shell.run(command, { phase: 'test', timeoutSeconds, stdin, allowFailure: true })

describe('the exec request', () => {
  it('is one fixed line with no backslash and one single-quoted word', () => {
    expect(EXEC_REQUEST).not.toMatch(/[\\\n]/)
    expect(EXEC_REQUEST.split("'")).toHaveLength(3)
  })

  it.each(Object.entries(LOGIN_SHELLS))(
    'starts the action shell under %s as login shell: commands run from stdin, with nothing of them in any argv',
    async (_name, login) => {
      const trace = join(mkdtempSync(join(tmpdir(), 'vsd-trace-')), 'trace')
      const { shell, noise } = await HostShell.open(
        localExec(login, { trace }),
        'test',
        () => undefined,
        10
      )
      expect(noise).toEqual({ stdout: '', stderr: '' })
      const first = await run(shell, script, Buffer.from('data after the script\nmore\n'))
      expect(first).toEqual({
        code: 0,
        stdout: `value=${hostile}\nstdin=data after the script\nuser\nstep\nmarker=1\n`,
        stderr: ''
      })
      // The same shell runs the next command: one login for both.
      const again = await run(shell, sh`printf 'again %s' "$VERIFIED_SSH_DEPLOY_CONTROL"; exit 3`)
      expect(again).toEqual({ code: 3, stdout: 'again 1', stderr: '' })
      shell.close()
      const execs = readFileSync(trace, 'utf8')
      expect(execs).toContain('/bin/sh')
      expect(execs).not.toContain(token)
      expect(execs.match(/execve\("[^"]*\/(dash|bash|zsh|fish|tcsh|busybox)"/g)).toHaveLength(1)
    }
  )

  it('does not leave the variable a user command came in to that command', async () => {
    const { shell } = await HostShell.open(localExec(['dash']), 'test', () => undefined, 10)
    const ran = await run(
      shell,
      sh`${hostLibrary()}
${userCommandScript({ environment: sh``, command: 'env' })}`
    )
    shell.close()
    expect(ran.stdout).toMatch(/^PATH=/m)
    expect(ran.stdout).not.toMatch(/VERIFIED_SSH_DEPLOY_SCRIPT/)
  })
})

describe('the action shell', () => {
  // The host scripts are POSIX sh: the session runs under each /bin/sh a host may have.
  describe.each([['dash'], ['bash'], ['busybox sh']])('as /bin/sh: %s', innerSh => {
    const open = (prelude?: string) =>
      HostShell.open(localExec(['dash'], { prelude, innerSh }), 'test', () => undefined, 10)

    it("tells the login shell's noise from each command's output, wherever it puts it", async () => {
      const { shell, noise } = await open(
        "echo Welcome; printf 'no newline'; printf 'on stderr' >&2; echo '@@0123456789ab ready'"
      )
      expect(noise).toEqual({
        stdout: 'Welcome\nno newline@@0123456789ab ready\n',
        stderr: 'on stderr'
      })
      expect(await run(shell, sh`printf 'out'; printf 'err' >&2`)).toEqual({
        code: 0,
        stdout: 'out',
        stderr: 'err'
      })
      expect(await run(shell, sh`echo '@@0123456789ab done 3 0'; exit 2`)).toEqual({
        code: 2,
        stdout: '@@0123456789ab done 3 0\n',
        stderr: ''
      })
      shell.close()
    })

    it('streams a large stdin whole, in frames, and goes on after a command that reads none of it', async () => {
      const { shell } = await open()
      const data = randomBytes(9 * 1024 * 1024 + 7)
      const stream = new PassThrough()
      const ran = run(shell, sh`cksum`, stream, 60)
      for (let at = 0; at < data.length; at += 65536) stream.write(data.subarray(at, at + 65536))
      stream.end()
      const local = await new Promise<string>(resolve => {
        const child = spawn('cksum')
        let out = ''
        child.stdout.on('data', chunk => (out += chunk))
        child.on('close', () => resolve(out))
        child.stdin.end(data)
      })
      expect((await ran).stdout).toBe(local)
      // A command that ends without reading its stdin: the frames still end whole.
      expect((await run(shell, sh`exit 0`, randomBytes(5 * 1024 * 1024))).code).toBe(0)
      expect((await run(shell, sh`echo still here`)).stdout).toBe('still here\n')
      shell.close()
    }, 60_000)

    it('runs a quiet command beside another, and leaves no zombie of its commands', async () => {
      const { shell } = await open()
      const file = join(mkdtempSync(join(tmpdir(), 'vsd-quiet-')), 'beat')
      const slow = run(shell, sh`sleep 0.5; cat ${file}; echo "$$"`)
      await shell.runQuiet(sh`echo beat > ${file}`)
      const { stdout } = await slow
      expect(stdout.split('\n')[0]).toBe('beat')
      const loop = stdout.split('\n')[1]
      for (let index = 0; index < 20; index++) await run(shell, sh`true`)
      const zombies = readdirSync('/proc')
        .filter(pid => /^\d+$/.test(pid))
        .flatMap(pid => {
          try {
            return [readFileSync(`/proc/${pid}/stat`, 'utf8')]
          } catch {
            return []
          }
        })
        .filter(stat => stat.split(') ')[1]?.split(' ')[1] === loop && / Z /.test(stat))
      // Reaped as jobs end (busybox ash reaps at its next fork): not one left per command.
      expect(zombies.length).toBeLessThanOrEqual(2)
      shell.close()
    })

    it('ends a command that runs past its time, and the shell with it', async () => {
      const { shell } = await open()
      await expect(run(shell, sh`sleep 3`, undefined, 1)).rejects.toThrow(
        /timed out after 1 s on test/
      )
      await new Promise(resolve => setTimeout(resolve, 100))
      expect(shell.ended).toBeDefined()
    })
  })

  it('fails to open, with what the login shell printed, when the login shell exits first', async () => {
    const opening = HostShell.open(
      localExec(['dash'], { prelude: "echo 'no shell for you' >&2; exit 1" }),
      'test',
      () => undefined,
      10
    )
    await expect(opening).rejects.toThrow(
      /the login shell on test exited with code 1 before the action's shell started: no shell for you/
    )
  })
})

describe('the marker reader', () => {
  const KEY = /vsd_key='([0-9a-f]{12})'/

  /**
   * A channel whose output is scripted: at the start, the login shell's part (`start`); after the
   * first frame (a command), its ack and the command's part (`command`). Each part is a list of
   * chunks per stream, so a marker may be split across chunks.
   */
  function scripted(
    start: (key: string) => Record<'stdout' | 'stderr', string[]>,
    command: (key: string) => Record<'stdout' | 'stderr', string[]>
  ): ExecRequest {
    return (_command, callback) => {
      let key = ''
      const channel = Object.assign(new EventEmitter(), {
        stderr: new EventEmitter(),
        signal: () => undefined,
        close: () => channel.emit('close'),
        end: () => undefined,
        write: (data: string | Buffer) => {
          const named = KEY.exec(String(data))?.[1]
          const part = named ? start((key = named)) : command(key)
          setImmediate(() => {
            if (!named) channel.emit('data', Buffer.from(`@@${key} ack\n`))
            for (const chunk of part.stdout) channel.emit('data', Buffer.from(chunk))
            for (const chunk of part.stderr) channel.stderr.emit('data', Buffer.from(chunk))
          })
          return true
        }
      })
      callback(undefined, channel as unknown as ClientChannel)
    }
  }

  /** Text a login shell or a command may print: anything but the key, with near-markers. */
  const text = fc
    .array(
      fc.oneof(
        fc.constantFrom(
          '\n',
          '@',
          '@@',
          ' ',
          'ready',
          'done 1 0',
          '@@step 0123456789ab',
          'é',
          '\r'
        ),
        fc.string({ maxLength: 8 })
      ),
      { maxLength: 12 }
    )
    .map(parts => parts.join(''))

  /** `text` cut into chunks at the given points (a marker may be split across chunks). */
  const chunked = (whole: string, cuts: number[]) => {
    const points = [...new Set(cuts.map(cut => cut % (whole.length + 1)))].sort((a, b) => a - b)
    return [0, ...points].map((at, index) => whole.slice(at, [...points, whole.length][index]))
  }

  it('reads the noise and a command’s output exactly, around markers and across chunks', async () => {
    await fc.assert(
      fc.asyncProperty(
        text,
        text,
        text,
        text,
        fc.array(fc.nat(), { maxLength: 6 }),
        async (noiseOut, noiseErr, out, err, cuts) => {
          const exec = scripted(
            key => ({
              stdout: chunked(`${noiseOut}@@${key} ready\n`, cuts),
              stderr: chunked(`${noiseErr}@@${key} ready\n`, cuts)
            }),
            key => ({
              stdout: chunked(`${out}@@${key} done 1 7\n`, cuts),
              stderr: chunked(`${err}@@${key} done 1\n`, cuts)
            })
          )
          const { shell, noise } = await HostShell.open(exec, 'test', () => undefined, 5)
          expect(noise).toEqual({ stdout: noiseOut, stderr: noiseErr })
          expect(await run(shell, sh`true`)).toEqual({ code: 7, stdout: out, stderr: err })
        }
      ),
      { numRuns: 300 }
    )
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

/**
 * A real OpenSSH sshd on a free loopback port, with its own host keys and client keys, for
 * integration and end-to-end tests. Fails loudly when sshd is not installed.
 */
import { execFile, execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createConnection, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { createDeployUser } from './users.js'

const run = promisify(execFile)
const SSHD = '/usr/sbin/sshd'

export interface ClientKey {
  path: string
  text: string
  passphrase?: string
}

export interface TestSshd {
  host: string
  port: number
  /** Who deploys: a user of this sshd's own unless `user` chose one; `stop` removes its own. */
  user: string
  /** Holds the sshd's keys and config; belongs to the deploy user, so targets go in it. */
  dir: string
  /** known_hosts lines for this server's host keys (ed25519 first, then rsa). */
  knownHosts: { ed25519: string; rsa: string }
  fingerprints: { ed25519: string; rsa: string }
  keys: { ed25519: ClientKey; rsaPassphrase: ClientKey; ecdsa: ClientKey; notAuthorized: ClientKey }
  /** The sshd master process. */
  process: ChildProcess
  /** Everything sshd logged (it runs with -e). */
  log(): string
  /**
   * Cuts every session: kills the sshd processes serving them, not the listener. Each connection
   * has a monitor (the listener's child) and, under it, the deploy user's sshd holding it too.
   */
  dropConnections(): void
  /** Spawn options that run a process as the deploy user, as one started on the host by hand. */
  asDeployUser: { uid: number; gid: number }
  /** Gives what a test wrote on the "host" as root to the deploy user, as if that user wrote it. */
  handOver(path: string): void
  /**
   * Mounts a tmpfs of `size` (a small disk a test can fill) at `path`, made if missing, its root
   * the deploy user's as a target should be. Returns what unmounts it.
   */
  mountDisk(path: string, size: string): () => void
  stop(): Promise<void>
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no port'))
      )
    })
  })
}

async function keygen(
  path: string,
  type: string,
  passphrase = '',
  extra: string[] = []
): Promise<ClientKey> {
  await run('ssh-keygen', [
    '-q',
    '-t',
    type,
    ...extra,
    '-N',
    passphrase,
    '-C',
    `test-${type}`,
    '-f',
    path
  ])
  return { path, text: readFileSync(path, 'utf8'), passphrase: passphrase || undefined }
}

async function fingerprintOf(publicKeyPath: string): Promise<string> {
  const { stdout } = await run('ssh-keygen', ['-l', '-E', 'sha256', '-f', publicKeyPath])
  return stdout.split(' ')[1]
}

function waitForBanner(port: number, deadline: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      const socket = createConnection({ host: '127.0.0.1', port })
      socket.once('data', data => {
        socket.destroy()
        if (data.toString().startsWith('SSH-2.0')) resolve()
        else reject(new Error(`unexpected banner on ${port}: ${data}`))
      })
      socket.once('error', () => {
        socket.destroy()
        if (Date.now() > deadline) reject(new Error(`sshd did not listen on ${port}`))
        else setTimeout(attempt, 50)
      })
    }
    attempt()
  })
}

export interface SshdOptions {
  extraConfig?: string[]
  /** Run inside this network namespace, listening on `listenAddress`:22 (see netns.ts). */
  netns?: string
  listenAddress?: string
  /** Listen on this port (default: a free one). */
  port?: number
  /** Also accept each user's own ~/.ssh/authorized_keys (test users: users.ts). */
  userKeys?: boolean
  /** More public keys to accept (e.g. another test sshd's client key, for one key across hosts). */
  authorize?: ClientKey[]
  /**
   * Run sshd, and so everything a deploy starts, in a PID namespace of its own: its /proc shows only
   * those processes, so a broad process-match can never reach the machine's. Ending sshd ends them.
   */
  pidNamespace?: boolean
  /**
   * Run sshd under `strace -f`, recording the argv of every program it and what it starts execute
   * into this file (needs `pidNamespace`, whose end also ends strace's tracees).
   */
  traceExecs?: string
  /**
   * Log in as this user rather than a deploy user of this sshd's own: another test sshd's, for one
   * login across hosts; or the runner's own (the demo, the bench).
   */
  user?: string
}

/** Resolves once sshd logs that it listens (works where the runner cannot reach it, too). */
function waitForListening(log: () => string, deadline: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (/Server listening on/.test(log())) resolve()
      else if (Date.now() > deadline) reject(new Error(`sshd did not start listening: ${log()}`))
      else setTimeout(check, 25)
    }
    check()
  })
}

export async function startSshd(options: SshdOptions = {}): Promise<TestSshd> {
  if (options.traceExecs && !options.pidNamespace) throw new Error('traceExecs needs pidNamespace')
  if (!existsSync(SSHD)) {
    throw new Error(
      `${SSHD} is missing: install it with 'apt-get install -y openssh-server' (.ci/run does this)`
    )
  }
  mkdirSync('/run/sshd', { recursive: true })
  const dir = mkdtempSync(join(tmpdir(), 'vsd-sshd-'))
  const [hostEd, hostRsa, ed25519, rsaPassphrase, ecdsa, notAuthorized] = await Promise.all([
    keygen(join(dir, 'ssh_host_ed25519_key'), 'ed25519'),
    keygen(join(dir, 'ssh_host_rsa_key'), 'rsa', '', ['-b', '2048']),
    keygen(join(dir, 'client_ed25519'), 'ed25519'),
    keygen(join(dir, 'client_rsa'), 'rsa', 'correct horse battery', ['-b', '3072']),
    keygen(join(dir, 'client_ecdsa'), 'ecdsa', '', ['-b', '256']),
    keygen(join(dir, 'client_not_authorized'), 'ed25519')
  ])
  const authorized = [ed25519, rsaPassphrase, ecdsa, ...(options.authorize ?? [])]
    .map(key => readFileSync(`${key.path}.pub`, 'utf8'))
    .join('')
  writeFileSync(join(dir, 'authorized_keys'), authorized)
  const fingerprints = {
    ed25519: await fingerprintOf(`${hostEd.path}.pub`),
    rsa: await fingerprintOf(`${hostRsa.path}.pub`)
  }
  // The sshd's own authorized_keys file (AuthorizedKeysFile below) serves every user, this one too.
  const deployUser = options.user ? undefined : createDeployUser()
  const user = options.user ?? deployUser?.name ?? ''
  const removeUser = () => deployUser?.remove()
  const id = (flag: string) => Number(execFileSync('id', [flag, user], { encoding: 'utf8' }))
  const ids = { uid: id('-u'), gid: id('-g') }
  // sshd reads the authorized_keys file in it as the user logging in.
  await run('chown', [`${ids.uid}:${ids.gid}`, dir])

  const address = options.listenAddress ?? '127.0.0.1'
  for (let attempt = 1; ; attempt++) {
    // In its own namespace the host has every port to itself, as a real server does.
    const port = options.netns ? 22 : (options.port ?? (await freePort()))
    const config = join(dir, 'sshd_config')
    writeFileSync(
      config,
      [
        // sshd keeps the first value it reads for a keyword, so a test's settings go first.
        ...(options.extraConfig ?? []),
        `ListenAddress ${address}`,
        `Port ${port}`,
        `HostKey ${hostEd.path}`,
        `HostKey ${hostRsa.path}`,
        `AuthorizedKeysFile ${options.userKeys ? '.ssh/authorized_keys ' : ''}${join(dir, 'authorized_keys')}`,
        `PidFile ${join(dir, 'sshd.pid')}`,
        'UsePAM no',
        'StrictModes no',
        'PermitRootLogin yes',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'AllowTcpForwarding yes',
        'MaxStartups 100',
        'MaxSessions 100',
        'LogLevel VERBOSE',
        'Subsystem sftp internal-sftp'
      ].join('\n') + '\n'
    )
    let log = ''
    const command = [
      ...(options.netns ? ['ip', 'netns', 'exec', options.netns] : []),
      ...(options.pidNamespace
        ? ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child']
        : []),
      ...(options.traceExecs
        ? [
            'strace',
            '-f',
            '-qq',
            '--seccomp-bpf',
            '-e',
            'trace=execve',
            '-s',
            '100000',
            '-o',
            options.traceExecs
          ]
        : []),
      SSHD
    ]
    const child = spawn(command[0], [...command.slice(1), '-D', '-e', '-f', config], {
      stdio: ['ignore', 'ignore', 'pipe']
    })
    child.stderr?.on('data', chunk => (log += chunk))
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', code => reject(new Error(`sshd exited (${code}): ${log}`)))
    )
    exited.catch(() => undefined)
    try {
      await Promise.race([
        options.netns
          ? waitForListening(() => log, Date.now() + 10_000)
          : waitForBanner(port, Date.now() + 10_000),
        exited
      ])
    } catch (error) {
      child.kill('SIGKILL')
      if (attempt < 5 && /Address already in use/.test(log)) continue
      removeUser()
      throw error
    }
    const name = port === 22 ? address : `[${address}]:${port}`
    const line = (key: ClientKey): string =>
      `${name} ${readFileSync(`${key.path}.pub`, 'utf8').split(' ').slice(0, 2).join(' ')}`
    return {
      host: address,
      port,
      user,
      dir,
      knownHosts: { ed25519: line(hostEd), rsa: line(hostRsa) },
      fingerprints,
      keys: { ed25519, rsaPassphrase, ecdsa, notAuthorized },
      process: child,
      log: () => log,
      dropConnections: () => {
        const monitors = spawnSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' })
        const list = monitors.stdout.trim().split('\n').join(',')
        if (list) spawnSync('pkill', ['-KILL', '-x', 'sshd', '-P', list])
        spawnSync('pkill', ['-KILL', '-P', String(child.pid)])
      },
      asDeployUser: ids,
      handOver: path => execFileSync('chown', ['-R', `${ids.uid}:${ids.gid}`, path]),
      mountDisk: (path, size) => {
        mkdirSync(path, { recursive: true })
        const options = `size=${size},mode=0755,uid=${ids.uid},gid=${ids.gid}`
        execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', path])
        return () => execFileSync('umount', ['-l', path])
      },
      stop: async () => {
        if (child.exitCode === null) {
          const gone = new Promise(resolve => child.once('exit', resolve))
          // unshare does not pass SIGTERM on; its --kill-child ends sshd and the namespace with it.
          child.kill(options.pidNamespace ? 'SIGKILL' : 'SIGTERM')
          await gone
        }
        removeUser()
        rmSync(dir, { recursive: true, force: true })
      }
    }
  }
}

/**
 * The refused-connections case of `npm run bench`: real gunicorn (sync workers) and uvicorn
 * (--workers 2) from Debian, deployed again and again while a client on the host opens a fresh
 * connection 100 times a second; with and without hold-ports, in the same run.
 */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { runAction } from '../__tests__/support/action.js'
import { startLoad, type LoadResult } from '../__tests__/support/load.js'
import { appSource, DEBIAN_PYTHON, killTargetProcesses, sha } from '../__tests__/support/service.js'
import { freePort, type TestSshd } from '../__tests__/support/sshd.js'

const PYTHON = DEBIAN_PYTHON

interface Server {
  name: string
  app: string
  /** The start-command: binding the port itself, or taking it from fd 3 (hold-ports). */
  command: (port: number, held: boolean) => string
}

export const SERVERS: Server[] = [
  {
    name: 'gunicorn (sync, -w 2)',
    app: 'wsgiapp.py',
    command: (port, held) =>
      `${PYTHON} -m gunicorn -w 2 --bind ${held ? 'fd://3' : `127.0.0.1:${port}`} wsgiapp:app`
  },
  {
    name: 'uvicorn (--workers 2)',
    app: 'asgiapp.py',
    command: (port, held) =>
      `${PYTHON} -m uvicorn --workers 2 ${held ? '--fd 3' : `--host 127.0.0.1 --port ${port}`} asgiapp:app`
  }
]

/** The connection inputs of a deploy to the bench's own sshd, on this machine. */
export function onHost(sshd: TestSshd): Record<string, string> {
  return {
    host: `127.0.0.1:${sshd.port}`,
    username: sshd.user,
    'private-key': sshd.keys.ed25519.text,
    'known-hosts': sshd.knownHosts.ed25519
  }
}

export interface RefusedSample {
  server: string
  holdPorts: boolean
  deploys: number
  sent: number
  refused: number
  reset: number
  failed: number
  longestWaitMs: number
}

/**
 * `deploys` deploys of `server` after a first one, the client at 100 requests a second from the
 * first deploy's end to the last one's; counts what it saw.
 */
export async function refusedConnections(
  sshd: TestSshd,
  hostDir: string,
  server: Server,
  holdPorts: boolean,
  deploys: number
): Promise<RefusedSample> {
  const port = await freePort()
  const target = join(hostDir, `refused-${port}`)
  const source = appSource(server.app, hostDir)
  const inputs = (commit: string) => ({
    ...onHost(sshd),
    source,
    target,
    'start-command': server.command(port, holdPorts),
    ports: String(port),
    'hold-ports': String(holdPorts),
    python: PYTHON,
    'version-url': `http://127.0.0.1:${port}/version`,
    'version-timeout': '60',
    'stable-for': '0',
    sha: commit
  })
  const deploy = async (commit: string) => {
    const result = await runAction(inputs(commit), { timeoutMs: 180_000 })
    if (result.code !== 0) throw new Error(`bench deploy failed:\n${result.stdout}`)
  }
  let load: LoadResult
  try {
    await deploy(sha('a'))
    const client = startLoad(port, 100)
    for (let n = 0; n < deploys; n++) await deploy(sha(n % 2 === 0 ? 'b' : 'a'))
    load = await client.stop()
  } finally {
    killTargetProcesses(target)
    rmSync(source, { recursive: true, force: true })
  }
  return {
    server: server.name,
    holdPorts,
    deploys,
    sent: load.sent,
    refused: load.refused,
    reset: load.reset,
    failed: load.failed,
    longestWaitMs: load.longestMs
  }
}

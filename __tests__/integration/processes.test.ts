import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, symlinkSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PROCESS_FUNCTIONS } from '../../src/phases/processes.js'

/** Runs the shared functions plus `body` in sh, optionally with a PATH that lacks `ss`. */
function probe(body: string, withoutSs = false): string {
  const env = { PATH: withoutSs ? pathWithoutSs : (process.env.PATH ?? '') }
  return execFileSync('/bin/sh', ['-c', `${PROCESS_FUNCTIONS.text}\n${body}`], {
    encoding: 'utf8',
    env
  }).trim()
}

let pathWithoutSs: string
let server: Server
let port: number
let sleeper: ChildProcess

beforeAll(async () => {
  pathWithoutSs = mkdtempSync(join(tmpdir(), 'vsd-nobin-'))
  mkdirSync(pathWithoutSs, { recursive: true })
  for (const tool of [
    'cat',
    'awk',
    'sed',
    'cut',
    'tr',
    'find',
    'sort',
    'grep',
    'printf',
    'sleep'
  ]) {
    const path = execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim()
    if (path.startsWith('/')) symlinkSync(path, join(pathWithoutSs, tool))
  }
  server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  port = (server.address() as { port: number }).port
  sleeper = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' })
})
afterAll(() => {
  server.close()
  sleeper.kill('SIGKILL')
})

describe.each([
  ['ss', false],
  ['/proc/net/tcp (no ss)', true]
])('port probes with %s', (_name, withoutSs) => {
  it('sees a listener and names the process holding it', () => {
    expect(probe(`command -v ss >/dev/null && echo has-ss || echo no-ss`, withoutSs)).toBe(
      withoutSs ? 'no-ss' : 'has-ss'
    )
    expect(probe(`port_held ${port} && echo held`, withoutSs)).toBe('held')
    expect(probe(`port_holders ${port}`, withoutSs)).toMatch(new RegExp(`^${process.pid} \\S*node`))
  })

  it('reports a free port as free', async () => {
    const spare = createServer()
    await new Promise<void>(resolve => spare.listen(0, '127.0.0.1', resolve))
    const freed = (spare.address() as { port: number }).port
    await new Promise(resolve => spare.close(resolve))
    expect(probe(`port_held ${freed} && echo held || echo free`, withoutSs)).toBe('free')
  })
})

describe('process groups', () => {
  it('group_alive follows a detached group until it is killed, and pgid_of reads /proc', async () => {
    const pgid = sleeper.pid as number
    expect(probe(`pgid_of ${pgid}`)).toBe(String(pgid))
    expect(probe(`group_alive ${pgid} && echo alive`)).toBe('alive')
    process.kill(-pgid, 'SIGKILL')
    await new Promise(resolve => setTimeout(resolve, 200))
    expect(probe(`group_alive ${pgid} && echo alive || echo gone`)).toBe('gone')
  })
})

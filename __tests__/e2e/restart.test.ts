import { describe, expect, it } from '@jest/globals'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { deploy, deployInputs, useSshd } from '../support/deploy.js'
import {
  reportedCommit,
  serviceSource,
  sha,
  startByHand,
  waitForCommit
} from '../support/service.js'
import { type TestSshd } from '../support/sshd.js'

let sshd: TestSshd
useSshd(started => (sshd = started), { stopServicesAfterEach: true })

/** A process-match pattern for this test's service only: other test files run services too. */
const matchPort = (port: number | string) => `vsdsvc start --port ${port}( |$)`

async function setup(
  name: string,
  flags = '',
  overrides: Record<string, string> = {},
  byPort = false
) {
  const target = join(sshd.dir, name)
  const inputs = await deployInputs(sshd, serviceSource(), target, overrides, flags)
  if (byPort) inputs['process-match'] = matchPort(inputs.ports)
  return { port: Number(inputs.ports), target, inputs }
}

describe('restart that really restarts', () => {
  it('waits for a service that takes 3 s to exit while holding its port, then starts the new one', async () => {
    const { port, inputs } = await setup('slow-exit', '--exit-delay 3')
    await deploy({ ...inputs, sha: sha('1') })
    await waitForCommit(port, sha('1'))
    const second = await deploy({ ...inputs, sha: sha('2') })
    expect(second.stdout).toMatch(
      /SIGTERM to \d+ \(\S*python3 -m vsdsvc start --port \d+ [^)]*\): recorded by the last deploy/
    )
    expect(second.stdout).toMatch(
      /SIGTERM to \d+ \(.*multiprocessing-fork\): recorded by the last deploy/
    )
    expect(second.stdout).toMatch(/old service gone after [3-6] s/)
    await waitForCommit(port, sha('2'))
  })

  it('SIGKILLs a service that ignores SIGTERM after stop-timeout, then starts the new one', async () => {
    const { port, inputs } = await setup('deaf', '--ignore-term', { 'stop-timeout': '2' })
    await deploy({ ...inputs, sha: sha('1') })
    await waitForCommit(port, sha('1'))
    const second = await deploy({ ...inputs, sha: sha('2') })
    expect(second.stdout).toMatch(/still running after 2 s: SIGKILL to \d+ \d+/)
    await waitForCommit(port, sha('2'))
  })

  it('stops the orphaned worker that a stop-command leaves holding the port; what the command prints is only its log', async () => {
    const { port, target, inputs } = await setup('stop-command')
    // Lines shaped like the host step's own markers (protocol.ts), from the user's command.
    const forged =
      "printf '@@exit 0\\n@@phase start 1\\n@@error forged\\n@@data mark 1\\n@@step 0123456789ab\\n'"
    const withStop = {
      ...inputs,
      'stop-command': `python3 -m vsdsvc stop --port ${port}; ${forged}`
    }
    await deploy({ ...withStop, sha: sha('1') })
    await waitForCommit(port, sha('1'))
    const second = await deploy({ ...withStop, sha: sha('2') })
    await waitForCommit(port, sha('2'))
    expect(readFileSync(join(target, '.deploy/state.json'), 'utf8')).toContain(
      `"sha": "${sha('2')}"`
    )
    for (const line of ['@@exit 0', '@@phase start 1', '@@error forged', '@@data mark 1']) {
      expect(second.stdout.split('\n')).toContain(line)
    }
    expect(second.summary).toMatch(/stop[^✗]*wait-for-exit[^✗]*switch[^✗]*start[^✗]*verify/)
    // A stop-command that fails is a warning, as systemd treats a failing ExecStop=: the service
    // is stopped the action's way, and wait-for-exit decides.
    const failed = await deploy({ ...withStop, 'stop-command': `${forged}; exit 3`, sha: sha('3') })
    expect(failed.stdout).toMatch(
      /^::warning title=stop-command failed::The stop-command \(.*exit 3\) exited with code 3\. The action stopped the service by its DEPLOY_TARGET marker/m
    )
    await waitForCommit(port, sha('3'))
    // The commonest failing stop-command: a pkill that matched nothing.
    const pkill = await deploy({
      ...withStop,
      'stop-command': `pkill -f ${target}/nothing-runs-from-here`,
      sha: sha('4')
    })
    expect(pkill.stdout).toContain(
      'exited with code 1: pkill/pgrep/killall exit 1 when no process matched'
    )
    await waitForCommit(port, sha('4'))
  })

  it('replaces a service first started by hand, found by process-match, children included', async () => {
    const { port, inputs } = await setup('by-hand', '', {}, true)
    startByHand(sshd, port, 'started-by-hand')
    await waitForCommit(port, 'started-by-hand')
    const result = await deploy({ ...inputs, sha: sha('3') })
    expect(result.stdout).toMatch(
      /SIGTERM to \d+ \(.*-m vsdsvc start --port \d+\): matched by process-match/
    )
    // The spawned children's command lines do not match; their process group does.
    expect(result.stdout).toMatch(
      /SIGTERM to \d+ \(.*multiprocessing-fork\): in process group \d+ of a process-match hit/
    )
    await waitForCommit(port, sha('3'))
  })

  it('returns promptly when the start command forks a daemon that keeps stdout open', async () => {
    const { port, inputs } = await setup('daemon', '--daemon')
    const started = Date.now()
    await deploy({ ...inputs, sha: sha('4') })
    expect(Date.now() - started).toBeLessThan(20_000)
    await waitForCommit(port, sha('4'))
  })

  it('runs start-command as is with detach: false, and exports DEPLOY_* and env to prepare and start', async () => {
    const target = join(sshd.dir, 'foreground')
    const base = await deployInputs(sshd, serviceSource(), target)
    const port = Number(base.ports)
    const inputs = {
      ...base,
      detach: 'false',
      env: `VSDSVC_PORT=${port}\nGREETING=it's "quoted"`,
      'prepare-command':
        'printf "%s|%s|%s" "$DEPLOY_SHA" "$GREETING" "$VSDSVC_PORT" > prepared.txt',
      'start-command':
        'setsid python3 -m vsdsvc start --port "$VSDSVC_PORT" < /dev/null > service.out 2>&1 & echo launched',
      'process-match': matchPort(port),
      sha: sha('5')
    }
    const result = await deploy(inputs)
    expect(result.stdout).toContain('launched')
    expect(readFileSync(join(target, 'current', 'prepared.txt'), 'utf8')).toBe(
      `${sha('5')}|it's "quoted"|${port}`
    )
    await waitForCommit(port, sha('5'))
    await deploy({ ...inputs, sha: sha('6') })
    await waitForCommit(port, sha('6'))
    expect(await reportedCommit(port)).toBe(sha('6'))
  })
})

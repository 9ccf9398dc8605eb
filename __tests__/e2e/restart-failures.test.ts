import { describe, expect, it } from '@jest/globals'
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { deploy, deployInputs, failureMessage, summaryHead, useSshd } from '../support/deploy.js'
import {
  DEBIAN_PYTHON,
  reportedCommit,
  serviceSource,
  sha,
  startCommand,
  waitForCommit
} from '../support/service.js'
import { freePort, type TestSshd } from '../support/sshd.js'

let sshd: TestSshd
useSshd(started => (sshd = started), { stopServicesAfterEach: true })

async function runningService(name: string, flags = '', overrides: Record<string, string> = {}) {
  const target = join(sshd.dir, name)
  const source = serviceSource()
  const inputs = await deployInputs(sshd, source, target, overrides, flags)
  const port = Number(inputs.ports)
  await deploy({ ...inputs, sha: sha('1') })
  await waitForCommit(port, sha('1'))
  return { port, target, source, inputs: { ...inputs, sha: sha('2') } }
}

describe('restart failures are clear and leave the old service up where they can', () => {
  it('with kill-after-timeout false, a service deaf to SIGTERM fails the deploy naming what holds the port', async () => {
    const { port, target, inputs } = await runningService('deaf', '--ignore-term', {
      'stop-timeout': '2',
      'kill-after-timeout': 'false'
    })
    const result = await deploy(inputs, 1)
    const message = failureMessage(result)
    expect(message).toContain(
      'wait-for-exit: the old service did not go away within 2 s (stop-timeout) (kill-after-timeout is off); nothing new was started.'
    )
    expect(message).toMatch(
      new RegExp(`port ${port} is still held by: \\d+ .*multiprocessing-fork`)
    )
    expect(readFileSync(join(target, '.deploy/state.json'), 'utf8')).toContain(sha('1'))
    expect(await reportedCommit(port)).toBe(sha('1'))
  })

  it('a port held by an unrelated process fails the deploy naming it, and nothing is started', async () => {
    const port = await freePort()
    // Another program of the deploy user's, which the action may see but must not signal.
    const squatter: ChildProcess = spawn(
      DEBIAN_PYTHON,
      [
        '-c',
        `import socket,time; s=socket.socket(); s.bind(("127.0.0.1", ${port})); s.listen(); time.sleep(120)`
      ],
      { ...sshd.asDeployUser, stdio: 'ignore' }
    )
    try {
      await new Promise(resolve => setTimeout(resolve, 500))
      const target = join(sshd.dir, 'squatted')
      const inputs = {
        ...(await deployInputs(sshd, serviceSource(), target, { 'stop-timeout': '1' })),
        'start-command': startCommand(port),
        ports: String(port)
      }
      const result = await deploy(inputs, 1)
      const message = failureMessage(result)
      expect(message).toContain(
        'wait-for-exit: the old service did not go away within 1 s (stop-timeout); nothing new was started.'
      )
      expect(message).toMatch(
        new RegExp(
          `port ${port} is still held by: ${squatter.pid} \\S*python3 -c import socket,time;`
        )
      )
      expect(existsSync(join(target, '.deploy/state.json'))).toBe(false)
      expect(existsSync(join(target, '.deploy/service.log'))).toBe(false)
    } finally {
      squatter.kill('SIGKILL')
    }
  })

  it('the import check catches an installed copy shadowing the deployed package, before anything stops', async () => {
    const installed = join(sshd.dir, 'site-packages')
    mkdirSync(join(installed, 'vsdapp'), { recursive: true })
    writeFileSync(join(installed, 'vsdapp/__init__.py'), 'WHERE = "installed"\n')
    const { port, source, inputs } = await runningService('shadowed')
    mkdirSync(join(source, 'src/vsdapp'), { recursive: true })
    writeFileSync(join(source, 'src/vsdapp/__init__.py'), 'WHERE = "release"\n')
    const shadowed = await deploy(
      { ...inputs, 'python-import-check': 'vsdapp', env: `PYTHONPATH=${installed}` },
      1
    )
    const message = failureMessage(shadowed)
    expect(message).toContain(
      `prepare: python-import-check: 'import vsdapp' in the new release resolves to ${installed}/vsdapp/__init__.py, outside the release`
    )
    expect(message).toContain('An installed copy is shadowing the deployed code')
    expect(message).toContain('Nothing was stopped.')
    expect(await reportedCommit(port)).toBe(sha('1'))

    const fixed = await deploy({
      ...inputs,
      'python-import-check': 'vsdapp',
      env: `PYTHONPATH=src:${installed}`
    })
    expect(fixed.stdout).toMatch(
      /python-import-check: vsdapp imports from .*\/releases\/[^/]+\/src\/vsdapp\/__init__.py/
    )
    await waitForCommit(port, sha('2'))
  })

  it('a failing prepare-command fails the deploy with the old service still serving', async () => {
    const { port, inputs } = await runningService('prepare-fails')
    const result = await deploy(
      {
        ...inputs,
        'prepare-command':
          'echo "resolving dependencies"; echo "no matching distribution" >&2; exit 7'
      },
      1
    )
    expect(failureMessage(result)).toMatch(
      /prepare: the prepare-command exited with code 7 in \S+\/releases\/\S+\. Nothing was stopped: the old service still serves, untouched\. Its last stderr:\nno matching distribution/
    )
    const { row, times, message } = summaryHead(result.summary)
    // Nothing was stopped: no downtime, not even an unknown one.
    expect(row).toMatch(/<td>failed in prepare<\/td><td>[^<]+<\/td><td>-<\/td>/)
    expect(times).toMatch(/upload [\d.]+ s · prepare [\d.]+ s ✗<\/p>$/)
    expect(message).toMatch(
      /prepare: the prepare-command exited with code 7 .* Nothing was stopped: the old service still serves, untouched/
    )
    expect(await reportedCommit(port)).toBe(sha('1'))
  })

  it('a failing migrate-command stops the deploy before anything stops, named in the summary; it runs after prepare-command and the import check', async () => {
    const { port, inputs } = await runningService('migrate-fails')
    const result = await deploy(
      {
        ...inputs,
        'prepare-command': 'echo prepared',
        'python-import-check': 'vsdsvc',
        'migrate-command':
          'echo "migrating to $DEPLOY_SHA"; echo "relation already exists" >&2; exit 4'
      },
      1
    )
    expect(failureMessage(result)).toMatch(
      /^\[[^\]]+\] migrate: the migrate-command exited with code 4 in \S+\/releases\/\S+\. Nothing was stopped: the old service still serves, untouched; the database is as the command left it.*Its last stderr:\nrelation already exists/s
    )
    const { row, times, message } = summaryHead(result.summary)
    expect(row).toMatch(/<td>failed in migrate<\/td><td>[^<]+<\/td><td>-<\/td>/)
    expect(times).toMatch(/prepare [\d.]+ s · migrate [\d.]+ s ✗<\/p>$/)
    expect(message).toContain('migrate: the migrate-command exited with code 4')
    // Its own log group, after prepare's command and import check; it ran with the deploy's env.
    const log = result.stdout
    const group = log.search(/::group::\S+: migrate\n/)
    expect(group).toBeGreaterThan(log.indexOf('prepare-command succeeded: echo prepared'))
    expect(group).toBeGreaterThan(log.indexOf('python-import-check: vsdsvc imports from'))
    expect(log.indexOf(`migrating to ${sha('2')}`)).toBeGreaterThan(group)
    expect(log).not.toMatch(/::group::\S+: stop\n/)
    expect(await reportedCommit(port)).toBe(sha('1'))
  })

  it('a rollback past a release whose migrate-command ran says the database keeps its migrations', async () => {
    const database = join(sshd.dir, 'migrations.sqlite')
    const migrate =
      'python3 -c \'import os, sqlite3; db = sqlite3.connect(os.environ["DATABASE"]); ' +
      'db.execute("create table if not exists applied (sha text)"); ' +
      'db.execute("insert into applied values (?)", (os.environ["DEPLOY_SHA"],)); db.commit()\''
    const { port, source, inputs } = await runningService('migrated', '', {
      'migrate-command': migrate,
      env: `PYTHONDONTWRITEBYTECODE=1\nDATABASE=${database}`
    })
    // The new release's service dies at import: start fails, and the rollback restores sha 1.
    appendFileSync(join(source, 'vsdsvc/__init__.py'), 'raise SystemExit("config missing")\n')
    const result = await deploy(inputs, 1)
    expect(result.outputs['rolled-back']).toBe('true')
    const kept = `The database keeps the migrations that ${result.outputs.release}'s migrate-command ran: what serves after the rollback runs against them. A rollback cannot undo a migration`
    expect(failureMessage(result)).toContain(kept)
    // The summary's Rollback line, as HTML (the apostrophe escaped).
    const rollbackLine = /<p><strong>Rollback:<\/strong> (Rolled back to [^<]*)<\/p>/.exec(
      result.summary
    )
    expect(rollbackLine?.[1].replace(/&#39;/g, "'")).toContain(`. ${kept}`)
    const applied = execFileSync(DEBIAN_PYTHON, [
      '-c',
      'import sqlite3, sys; print(" ".join(r[0] for r in sqlite3.connect(sys.argv[1]).execute("select sha from applied")))',
      database
    ])
    expect(applied.toString().trim()).toBe(`${sha('1')} ${sha('2')}`)
    expect(await reportedCommit(port)).toBe(sha('1'))
  })

  it("a start command that fails at once fails with its exit code and this start's log lines only", async () => {
    const target = join(sshd.dir, 'dies')
    const inputs = await deployInputs(sshd, serviceSource(), target)
    const port = Number(inputs.ports)
    await deploy({ ...inputs, sha: sha('1') })
    await waitForCommit(port, sha('1'))
    const result = await deploy(
      {
        ...inputs,
        sha: sha('2'),
        'rollback-on-failure': 'false',
        'start-command': 'echo "Traceback: config missing"; exit 2'
      },
      1
    )
    const message = failureMessage(result)
    expect(message).toContain(
      `start: the start command exited with code 2 within 1 s; its lines in ${target}/.deploy/service.log:`
    )
    expect(message).toContain('Traceback: config missing')
    // The first start's lines are in the same log, but not in this failure.
    expect(readFileSync(join(target, '.deploy/service.log'), 'utf8')).toContain(
      `serving ${sha('1')}`
    )
    expect(message).not.toContain('serving')
    expect(message).not.toContain(sha('1'))
  })
})

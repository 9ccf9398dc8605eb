import { describe, expect, it } from '@jest/globals'
import * as core from '@actions/core'
import { DeployReport } from '../../src/report.js'
import { describePlan } from '../../src/plan.js'
import { releaseOutcome } from '../../src/phases/lock.js'
import { getSettings } from '../../src/settings.js'
import { inputReader, sourceTree, TEST_SHA } from '../support/fixtures.js'

describe('DeployReport', () => {
  it('sets every output and one summary row per host', () => {
    const report = new DeployReport()
    report.sha = TEST_SHA
    const first = report.addHost('a:22')
    Object.assign(first, {
      result: 'success',
      sha: TEST_SHA,
      release: 'r1',
      uploadedFiles: 3,
      uploadedBytes: 100,
      downtimeSeconds: 0.4321
    })
    first.phases.push({ phase: 'connect', seconds: 0.25, ok: true })
    const second = report.addHost('b:22')
    Object.assign(second, {
      result: 'failed',
      error: 'verify: reported deadbeef',
      uploadedFiles: 2,
      uploadedBytes: 50
    })
    const outputs = report.outputs()
    expect(outputs).toMatchObject({
      sha: TEST_SHA,
      release: 'r1',
      'rolled-back': 'false',
      'uploaded-files': '5',
      'uploaded-bytes': '150',
      'downtime-seconds': '0.43',
      'venv-reused': ''
    })
    expect(Object.keys(outputs).sort()).toEqual(
      [
        'sha',
        'release',
        'previous-sha',
        'previous-release',
        'rolled-back',
        'reported-version',
        'uploaded-files',
        'uploaded-bytes',
        'duration-seconds',
        'downtime-seconds',
        'venv-reused',
        'hosts'
      ].sort()
    )
    expect(JSON.parse(outputs.hosts)[0].downtimeSeconds).toBe(0.43)
    expect(JSON.parse(outputs.hosts)[1].downtimeSeconds).toBeUndefined()
    expect(JSON.parse(outputs.hosts)[0].phases).toEqual([
      { phase: 'connect', seconds: 0.25, ok: true }
    ])
    core.summary.emptyBuffer()
    const html = report.buildSummary().stringify()
    expect(html).toContain('<td>a:22</td><td>success</td>')
    expect(html).toContain('<td>b:22</td><td>failed</td>')
    expect(html).toContain('connect 0.3 s')
    expect(html).toContain('<td>0.43 s</td>')
    expect(html).toContain('verify: reported deadbeef')
    core.summary.emptyBuffer()
  })
})

describe('describePlan', () => {
  it('lists the phases with the resolved settings', () => {
    const settings = getSettings(
      inputReader({
        host: 'h',
        username: 'u',
        password: 'x',
        source: sourceTree(),
        target: '/srv/app',
        'start-command': 'python -m app',
        'version-url': 'http://127.0.0.1:7861/version',
        ports: '7861',
        'process-match': 'app serve',
        exclude: '*.log'
      })
    )
    const plan = describePlan(
      settings,
      { label: 'h:22', target: '/srv/app' },
      TEST_SHA,
      new Date('2026-11-24T10:15:00Z')
    )
    expect(plan.map(line => line.trim().split(/\s+/)[1])).toEqual([
      'connect',
      'lock',
      'upload',
      'prepare',
      'stop',
      'wait-for-exit',
      'switch',
      'start',
      'verify',
      'rollback',
      'prune'
    ])
    const text = plan.join('\n')
    expect(text).toContain('/srv/app/current -> releases/20261124T101500Z-0123456')
    expect(text).toContain('excluding .git, __pycache__, *.pyc, *.pyo, /.deploy, *.log')
    expect(text).toContain("processes matching 'app serve'")
    expect(text).toContain('ports free: 7861')
  })
})

describe('releaseOutcome', () => {
  const lock = {
    host: 'h',
    port: 22,
    username: 'u',
    lockDir: '/srv/app/.deploy/lock',
    token: 't',
    restartLog: '/srv/app/.deploy/restart.log'
  }
  it('says Released only when the release removed the lock', () => {
    expect(releaseOutcome(lock, 'released\n')).toBe('Released /srv/app/.deploy/lock')
    expect(
      releaseOutcome(
        lock,
        'other {"run":"https://x/runs/2","sha":"abcdef1234567890","time":"T","token":"z"}\n'
      )
    ).toBe(
      'Left /srv/app/.deploy/lock alone: it is held by another deploy now (https://x/runs/2 (deploying abcdef123456, since T))'
    )
    expect(releaseOutcome(lock, 'gone\n')).toBe('/srv/app/.deploy/lock was already gone')
  })
})

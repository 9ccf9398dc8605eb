/**
 * The pipeline declared once (pipeline.ts): the phase order, the restart's host step, the budgets
 * and the dry-run plan all come from one list.
 */
import { describe, expect, it } from '@jest/globals'
import { operationPhases } from '../../src/engine/operations.js'
import { describePlan, HOST_STEP_PHASES, phaseBudget, PIPELINE } from '../../src/model/pipeline.js'
import { getSettings } from '../../src/inputs/settings.js'
import { inputReader, sourceTree, TEST_SHA } from '../support/fixtures.js'

const inputs = {
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
}
const settings = getSettings(inputReader(inputs))

describe('the pipeline', () => {
  it('runs the restart as one host step: stop, wait-for-exit, switch, start', () => {
    expect(HOST_STEP_PHASES).toEqual(['stop', 'wait-for-exit', 'switch', 'start'])
  })

  it('gives every phase a time limit of its own inputs plus margins', () => {
    for (const { name } of PIPELINE) {
      expect(phaseBudget(settings, name)).toBeGreaterThan(0)
      expect(Number.isFinite(phaseBudget(settings, name))).toBe(true)
    }
    const longer = getSettings(inputReader({ ...inputs, 'version-timeout': '500' }))
    expect(phaseBudget(longer, 'verify') - phaseBudget(settings, 'verify')).toBe(
      500 - settings.versionTimeoutSeconds
    )
  })
})

describe('describePlan', () => {
  it('lists the phases with the resolved settings', () => {
    const plan = describePlan(
      settings,
      operationPhases('deploy'),
      { label: 'h:22', target: '/srv/app' },
      TEST_SHA,
      new Date('2026-11-24T10:15:00Z')
    )
    expect(plan.map(line => line.trim().split(/\s+/)[1])).toEqual([
      'connect',
      'lock',
      'upload',
      'prepare',
      'migrate',
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

  it("lists each operation's own steps, as its declared steps (operations.ts) name them", () => {
    const plan = (operation: 'deploy' | 'rollback' | 'restart' | 'verify') =>
      describePlan(
        getSettings(inputReader({ ...inputs, operation })),
        operationPhases(operation),
        { label: 'h:22', target: '/srv/app' },
        TEST_SHA,
        new Date()
      ).map(line => line.trim().split(/\s+/)[1])
    expect(plan('rollback')).toEqual([
      'connect',
      'lock',
      'choose',
      'stop',
      'wait-for-exit',
      'switch',
      'start',
      'verify',
      'rollback'
    ])
    expect(plan('restart')).toEqual([
      'connect',
      'lock',
      'choose',
      'stop',
      'wait-for-exit',
      'start',
      'verify'
    ])
    expect(plan('verify')).toEqual(['connect', 'choose', 'verify'])
    expect(plan('deploy')).not.toContain('choose')
  })
})

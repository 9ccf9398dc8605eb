import { describe, expect, it } from '@jest/globals'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { PROJECT_ROOT } from '../support/action.js'
import type { PhaseName, PhaseTiming } from '../../src/phase.js'
import { timelineChart } from '../../src/timeline.js'

interface Task {
  section: string
  name: string
  start: number
  end: number
  crit: boolean
}

/** The chart's tasks as Mermaid itself parses them (support/mermaid-tasks.mjs). */
function parsed(chart: string): Task[] {
  const run = spawnSync(
    process.execPath,
    [join(PROJECT_ROOT, '__tests__/support/mermaid-tasks.mjs')],
    {
      input: chart,
      encoding: 'utf8'
    }
  )
  if (run.status !== 0) throw new Error(`Mermaid refused the chart: ${run.stderr}\n${chart}`)
  return JSON.parse(run.stdout)
}

const T0 = Date.UTC(2026, 11, 2, 8, 0, 0)

/** Phases one after another from `from`, each [name, seconds, ok]. */
function phases(from: number, ...steps: [PhaseName, number, boolean?][]): PhaseTiming[] {
  let at = from
  return steps.map(([phase, seconds, ok = true]) => {
    const timing = { phase, startedAt: at, seconds, ok }
    at += seconds * 1000
    return timing
  })
}

describe('the timeline (Mermaid gantt)', () => {
  it('one host: a row per phase, from its start to its end, parsed by Mermaid', () => {
    const chart = timelineChart([
      {
        host: 'deploy@10.0.0.5:2222',
        phases: phases(T0, ['connect', 0.42], ['lock', 0.1], ['upload', 1.25], ['verify', 2])
      }
    ])
    expect(chart.split('\n').slice(0, 3)).toEqual([
      'gantt',
      '  dateFormat x',
      '  axisFormat %H:%M:%S'
    ])
    expect(parsed(chart)).toEqual([
      {
        section: 'deploy@10.0.0.5:2222',
        name: 'connect 0.4 s',
        start: T0,
        end: T0 + 420,
        crit: false
      },
      {
        section: 'deploy@10.0.0.5:2222',
        name: 'lock 0.1 s',
        start: T0 + 420,
        end: T0 + 520,
        crit: false
      },
      {
        section: 'deploy@10.0.0.5:2222',
        name: 'upload 1.3 s',
        start: T0 + 520,
        end: T0 + 1770,
        crit: false
      },
      {
        section: 'deploy@10.0.0.5:2222',
        name: 'verify 2.0 s',
        start: T0 + 1770,
        end: T0 + 3770,
        crit: false
      }
    ])
  })

  it('several hosts (a rolling deploy): a section each; a failed phase is crit and marked ✗', () => {
    const first = phases(T0, ['connect', 0.3], ['start', 0.2], ['verify', 1])
    const second = phases(T0 + 1500, ['connect', 0.3], ['start', 0.25, false], ['rollback', 2])
    const tasks = parsed(
      timelineChart([
        { host: 'a.example:22', phases: first },
        { host: '[2001:db8::1]:22', phases: second },
        { host: 'never-started:22', phases: [] }
      ])
    )
    expect(tasks.map(task => [task.section, task.name, task.crit])).toEqual([
      ['a.example:22', 'connect 0.3 s', false],
      ['a.example:22', 'start 0.2 s', false],
      ['a.example:22', 'verify 1.0 s', false],
      ['[2001:db8::1]:22', 'connect 0.3 s', false],
      ['[2001:db8::1]:22', 'start 0.3 s ✗', true],
      ['[2001:db8::1]:22', 'rollback 2.0 s', false]
    ])
    // The second host began after the first: the chart keeps the real times, not a row per host from 0.
    expect(tasks[3].start).toBe(T0 + 1500)
    expect(tasks[5].end).toBe(T0 + 1500 + 300 + 250 + 2000)
  })

  it('a host name cannot break the chart', () => {
    const [task] = parsed(
      timelineChart([{ host: 'evil;host %% comment #x', phases: phases(T0, ['connect', 1]) }])
    )
    expect(task).toMatchObject({ section: 'evil host comment x', start: T0, end: T0 + 1000 })
  })

  it('nothing ran: no chart', () => {
    expect(timelineChart([{ host: 'a:22', phases: [] }])).toBe('')
  })

  it('the checker itself refuses a broken chart', () => {
    expect(() => parsed('gantt\n  dateFormat x\n  section a\n  t : a1, 10, 20\n  #bad\n')).toThrow(
      /Mermaid refused the chart: Parse error/
    )
  })
})

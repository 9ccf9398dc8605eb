import { describe, expect, it } from '@jest/globals'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { PROJECT_ROOT } from '../support/action.js'
import type { PhaseName, PhaseTiming } from '../../src/model/phase.js'
import { MOST_TICKS, timelineChart } from '../../src/report/timeline.js'

interface Task {
  section: string
  name: string
  start: number
  end: number
  crit: boolean
}

/** The chart's tasks and axis as Mermaid itself parses them (support/mermaid-tasks.mjs). */
function parsedChart(chart: string): {
  tasks: Task[]
  axis: { tickInterval: string; axisFormat: string }
} {
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

const parsed = (chart: string): Task[] => parsedChart(chart).tasks

/** Seconds in a Mermaid tick interval such as `5second` or `2minute`. */
function intervalSeconds(interval: string): number {
  const [, count, unit] = /^(\d+)(second|minute)$/.exec(interval) ?? []
  return Number(count) * (unit === 'minute' ? 60 : 1)
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
    expect(chart.split('\n').slice(0, 4)).toEqual([
      'gantt',
      '  dateFormat x',
      '  axisFormat %H:%M:%S',
      '  tickInterval 1second'
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

  it.each([3, 25, 90, 600])(
    'a %i s deploy gets a handful of ticks whose labels (HH:MM:SS) differ',
    seconds => {
      const { axis } = parsedChart(
        timelineChart([
          { host: 'a:22', phases: phases(T0 + 123, ['connect', 0.5], ['verify', seconds - 0.5]) }
        ])
      )
      expect(axis.axisFormat).toBe('%H:%M:%S')
      const step = intervalSeconds(axis.tickInterval)
      const ticks = Array.from(
        { length: Math.floor(seconds / step) + 1 },
        (_, index) => T0 + index * step * 1000
      )
      expect(ticks.length).toBeLessThanOrEqual(MOST_TICKS + 1)
      const labels = ticks.map(at => new Date(at).toISOString().slice(11, 19))
      expect(new Set(labels).size).toBe(labels.length)
    }
  )

  it('nothing ran: no chart', () => {
    expect(timelineChart([{ host: 'a:22', phases: [] }])).toBe('')
  })

  it('the checker itself refuses a broken chart', () => {
    expect(() => parsed('gantt\n  dateFormat x\n  section a\n  t : a1, 10, 20\n  #bad\n')).toThrow(
      /Mermaid refused the chart: Parse error/
    )
  })
})

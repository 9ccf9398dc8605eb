import { describe, expect, it } from '@jest/globals'
import * as core from '@actions/core'
import { micromark } from 'micromark'
import { gfm, gfmHtml } from 'micromark-extension-gfm'
import { DeployReport } from '../../src/report/report.js'
import { timelineChart } from '../../src/report/timeline.js'
import { releaseOutcome } from '../../src/tasks/lock.js'
import { readHostUndo } from '../../src/commands/watchdog.js'
import { SAMPLE_LOCK, TEST_SHA } from '../support/fixtures.js'

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
    first.phases.push({ phase: 'connect', startedAt: 1000, seconds: 0.25, ok: true })
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
        'deployment-id',
        'hosts'
      ].sort()
    )
    expect(JSON.parse(outputs.hosts)[0].downtimeSeconds).toBe(0.43)
    expect(JSON.parse(outputs.hosts)[1].downtimeSeconds).toBeUndefined()
    expect(JSON.parse(outputs.hosts)[0].phases).toEqual([
      { phase: 'connect', startedAt: 1000, seconds: 0.25, ok: true }
    ])
    core.summary.emptyBuffer()
  })

  it('writes a dash, not an empty (void) cell, for a release or downtime it does not have', () => {
    const report = new DeployReport()
    Object.assign(report.addHost('b:22'), { result: 'failed', error: 'connect: refused' })
    core.summary.emptyBuffer()
    const html = report.buildSummary().stringify()
    core.summary.emptyBuffer()
    expect(html).toContain('<td>failed</td><td>-</td><td>-</td><td>no</td>')
    expect(html).not.toMatch(/<td>(?!.*?<\/td>)/)
  })

  it('a rolled-back deploy reports its outage until the rollback answered', () => {
    const report = new DeployReport()
    const host = report.addHost('a:22')
    Object.assign(host, {
      result: 'failed',
      failedPhase: 'start',
      release: 'r2',
      rolledBack: true,
      downtimeSeconds: 4.104,
      error: 'start: exited with code 1',
      rollbackOutcome: 'Rolled back to r1.'
    })
    host.phases.push({ phase: 'stop', seconds: 0.1, ok: true, startedAt: 1000 })
    core.summary.emptyBuffer()
    const html = report.buildSummary().stringify()
    core.summary.emptyBuffer()
    expect(html).toContain(
      '<td>failed in start</td><td>r2</td><td>4.10 s (until the rollback answered)</td><td>yes</td>'
    )
    expect(report.outputs()['downtime-seconds']).toBe('4.10')
    expect(html).not.toContain('Downtime unknown')
  })

  it('a deploy that stopped the service and verified nothing after says its downtime is unknown', () => {
    const report = new DeployReport()
    const host = report.addHost('a:22')
    Object.assign(host, { result: 'failed', failedPhase: 'start', error: 'start: exit 1' })
    host.phases.push({ phase: 'stop', seconds: 0.1, ok: true, startedAt: 1000 })
    core.summary.emptyBuffer()
    const html = report.buildSummary().stringify()
    core.summary.emptyBuffer()
    expect(html).toContain('<td>unknown</td>')
    expect(html).toContain('<p>Downtime unknown: the old service was sent its stop')
    expect(report.outputs()['downtime-seconds']).toBe('')
  })
})

/** The summary as GitHub shows it: GitHub-flavoured Markdown with raw HTML allowed. */
function rendered(report: DeployReport): string {
  core.summary.emptyBuffer()
  const markdown = report.buildSummary().stringify()
  core.summary.emptyBuffer()
  return micromark(markdown, {
    allowDangerousHtml: true,
    extensions: [gfm()],
    htmlExtensions: [gfmHtml()]
  })
}

const TRACEBACK = [
  'verify: http://127.0.0.1:8000/version (requested from the host) gave no commit within 30 s (version-timeout).',
  `Expected commit: ${TEST_SHA}`,
  '--- this start in /srv/app/.deploy/service.log',
  'Traceback (most recent call last):',
  '  File "/srv/app/releases/r2/app.py", line 3, in <module>',
  '    main(*args, **kwargs)',
  '',
  'ValueError: bad <config> & "quotes" with ``` inside',
  '--- port 8000 is free'
].join('\n')

describe('the job summary, rendered as GitHub renders it', () => {
  it('a success: one row per host with its release and downtime, and the phase times', () => {
    const report = new DeployReport()
    report.sha = TEST_SHA
    const host = report.addHost('a:22')
    Object.assign(host, { result: 'success', release: 'r1', downtimeSeconds: 0.4321 })
    host.phases.push({ phase: 'connect', startedAt: 1000, seconds: 0.25, ok: true })
    const html = rendered(report)
    expect(html).toContain('<h2>Verified SSH Deploy</h2>')
    expect(html).toContain(
      `<p><strong>Deployed to 1 host</strong> · commit <code>${TEST_SHA}</code>`
    )
    expect(html).toContain('<td>a:22</td><td>success</td><td>r1</td><td>0.43 s</td><td>no</td>')
    expect(html).toContain('<h3>a:22: success</h3>')
    expect(html).toContain('<p>connect 0.3 s</p>')
  })

  it('a failure with a Python traceback: the message, then the excerpt verbatim in a code block', () => {
    const report = new DeployReport()
    report.sha = TEST_SHA
    const host = report.addHost('a:22')
    const outcome = `Rolled back to r1, the release live before this deploy: it is verified serving ${TEST_SHA}.`
    Object.assign(host, {
      result: 'failed',
      failedPhase: 'verify',
      rolledBack: true,
      rollbackOutcome: outcome,
      error: TRACEBACK
    })
    host.phases.push({ phase: 'verify', startedAt: 1000, seconds: 30.1, ok: false })
    const html = rendered(report)
    expect(html).toContain('<td>a:22</td><td>failed in verify</td>')
    expect(html).toContain(
      '<p>verify: http://127.0.0.1:8000/version (requested from the host) gave no commit within 30 s (version-timeout).</p>'
    )
    const code = /<pre><code class="language-text">([\s\S]*?)<\/code><\/pre>/.exec(html)?.[1]
    expect(code).toBe(
      TRACEBACK.split('\n')
        .slice(1)
        .join('\n')
        .replace(/&/g, '&amp;')
        .replace(/</g, '&lt;')
        .replace(/>/g, '&gt;')
        .replace(/"/g, '&quot;') + '\n'
    )
    expect(html).not.toContain('<em>')
    expect(html).toContain('<details open><summary>Details</summary>')
    expect(html).toContain(`<p><strong>Rollback:</strong> ${outcome}</p>`)
  })

  it('a cancelled run: its heading, row and phases agree, and the cancel message is there', () => {
    const report = new DeployReport()
    const host = report.addHost('a:22')
    host.phases.push({ phase: 'stop', startedAt: 1000, seconds: 0.2, ok: true })
    // What cancel.ts leaves: the phase cut off, and the message.
    Object.assign(host, { result: 'cancelled', failedPhase: 'verify' })
    host.phases.push({ phase: 'verify', startedAt: 1200, seconds: 3, ok: false })
    report.cancelled = 'Cancelled (SIGINT) during verify on a:22. A restart already running …'
    const html = rendered(report)
    expect(html).toContain('<p><strong>Cancelled on 1 of 1 host</strong>')
    expect(html).toContain('<p>Cancelled (SIGINT) during verify on a:22.')
    expect(html).toContain('<td>a:22</td><td>cancelled in verify</td>')
    expect(html).toContain('stop 0.2 s · verify 3.0 s ✗')
    expect(html).not.toContain('Failed on')
  })

  it('a release removed after its failure says so in the Release column', () => {
    const report = new DeployReport()
    const host = report.addHost('a:22')
    Object.assign(host, {
      result: 'failed',
      failedPhase: 'start',
      release: '20261205T000000Z-2222222',
      releaseRemoved: true
    })
    expect(rendered(report)).toContain('<td>20261205T000000Z-2222222 (removed)</td>')
  })

  it('the timeline: a mermaid block GitHub draws, after the hosts', () => {
    const report = new DeployReport()
    for (const [name, ok] of [
      ['a:22', true],
      ['b:22', false]
    ] as const) {
      const host = report.addHost(name)
      Object.assign(host, { result: ok ? 'success' : 'failed', failedPhase: 'stop' })
      host.phases.push({ phase: 'stop', startedAt: 5000, seconds: 0.25, ok })
    }
    const html = rendered(report)
    const chart = /<pre><code class="language-mermaid">([\s\S]*?)<\/code><\/pre>/.exec(html)?.[1]
    expect(chart).toBe(timelineChart(report.hosts) + '\n')
    expect(chart).toContain('section b:22\n  stop 0.3 s ✗ :crit, 5000, 5250')
    expect(html.indexOf('language-mermaid')).toBeGreaterThan(html.indexOf('<h3>b:22'))
  })

  it('invalid inputs: the problems, and no empty table', () => {
    const report = new DeployReport()
    report.inputProblems = [
      "host is '<x>': use host, host:port or user@host",
      'target is required: set it to the absolute directory on the host'
    ]
    const html = rendered(report)
    expect(html).toContain(
      '<strong>The inputs were refused</strong>, so nothing was changed on any host'
    )
    expect(html).toContain('<li>host is &#39;&lt;x&gt;&#39;: use host, host:port or user@host</li>')
    expect(html).toContain(
      '<li>target is required: set it to the absolute directory on the host</li>'
    )
    expect(html).not.toContain('<table>')
  })

  it("two hosts: each keeps its own section after the other's excerpt", () => {
    const report = new DeployReport()
    report.sha = TEST_SHA
    Object.assign(report.addHost('a:22'), {
      result: 'failed',
      failedPhase: 'verify',
      error: TRACEBACK
    })
    Object.assign(report.addHost('b:22'), { result: 'success', release: 'r2' })
    Object.assign(report.addHost('c:22'), { result: 'not-started' })
    const html = rendered(report)
    expect(html).toContain('<p><strong>Failed on 1 of 3 hosts</strong>')
    expect(html).toContain('<td>b:22</td><td>success</td><td>r2</td>')
    expect(html).toContain('<td>c:22</td><td>not-started</td>')
    expect(html.indexOf('<h3>b:22: success</h3>')).toBeGreaterThan(html.indexOf('</details>'))
    expect(html).not.toContain('<h3>c:22')
  })
})

const lock = SAMPLE_LOCK

describe('releaseOutcome', () => {
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

describe("releaseOutcome, with the run's release", () => {
  it('names the release it removed with the lock', () => {
    const withRelease = { ...lock, release: 'R1' }
    expect(releaseOutcome(withRelease, 'discarded\nreleased\n')).toBe(
      "Released /srv/app/.deploy/lock, and removed the run's release R1, which is not live"
    )
    expect(releaseOutcome(withRelease, 'released\n')).toBe('Released /srv/app/.deploy/lock')
  })
})

describe('readHostUndo: what the watchdog did, from the journal', () => {
  const journal = '/srv/app/.deploy/journal'
  const undo =
    'journal 2026-12-02T01:00:00Z undo R2: not confirmed within 36 s of its start, and the runner sent no heartbeat for 30 s. Returning to R1\n'
  it('nothing when it took no decision', () => {
    expect(
      readHostUndo('journal 2026-12-02T00:59:00Z armed R2: falls back to R1\n', 'R2', journal)
    ).toBeUndefined()
  })
  it('undone: the fallback serves again, the lock freed', () => {
    const stdout = `${undo}journal 2026-12-02T01:00:04Z undone R1 ${'1'.repeat(40)}: started it, and new processes hold its ports\njournal 2026-12-02T01:00:04Z released the lock\n`
    expect(readHostUndo(stdout, 'R2', journal)).toEqual({
      undone: true,
      text: `The host undid R2 by itself at 2026-12-02T01:00:00Z (not confirmed within 36 s of its start, and the runner sent no heartbeat for 30 s); R1 serves again: started it, and new processes hold its ports, and it freed the deploy lock. Its record: ${journal}.`
    })
  })
  it('undo-failed, or no outcome yet, is not a rollback that held', () => {
    const failed = `${undo}journal 2026-12-02T01:00:34Z undo-failed R1: started it, but no new process holds port 8000 after 5 s\n`
    expect(readHostUndo(failed, 'R2', journal)).toMatchObject({
      undone: false,
      text: expect.stringContaining(
        '; that failed: R1: started it, but no new process holds port 8000 after 5 s. Its record:'
      )
    })
    expect(readHostUndo(undo, 'R2', journal)?.text).toContain(
      'it has not recorded how that went yet'
    )
  })
})

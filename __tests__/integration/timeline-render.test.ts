/**
 * The job summary's timeline as GitHub shows it: Mermaid renders the chart to SVG in a real
 * browser (Debian's headless Chromium, the page dumped once its script ran), and the axis's tick
 * labels are measured there. For deploys from 5 s to 10 min, no two labels overlap and none
 * repeats; a chart whose ticks are too fine is caught by the same measure.
 */
import { describe, expect, it } from '@jest/globals'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PROJECT_ROOT } from '../support/action.js'
import { timelineChart } from '../../src/report/timeline.js'
import type { PhaseName } from '../../src/model/phase.js'

const CHROMIUM = '/usr/bin/chromium'
/** About as wide as the job summary's column on github.com. */
const WIDTH_PX = 800
/** The least gap between two labels that still reads as two. */
const GAP_PX = 4

interface Tick {
  text: string
  left: number
  right: number
}

/** Renders each chart with Mermaid in Chromium; each chart's tick labels, left to right. */
function renderedTicks(charts: string[]): Tick[][] {
  const dir = mkdtempSync(join(tmpdir(), 'vsd-timeline-'))
  const page = join(dir, 'page.html')
  const mermaid = join(PROJECT_ROOT, 'node_modules/mermaid/dist/mermaid.min.js')
  writeFileSync(
    page,
    `<!doctype html><html><body style="margin:0;width:${WIDTH_PX}px">
<script src="file://${mermaid}"></script>
<script id="charts" type="application/json">${JSON.stringify(charts).replace(/</g, '\\u003c')}</script>
<pre id="out">pending</pre>
<script>
(async () => {
  const out = document.getElementById('out')
  try {
    mermaid.initialize({ startOnLoad: false })
    const results = []
    const charts = JSON.parse(document.getElementById('charts').textContent)
    for (const [index, chart] of charts.entries()) {
      const { svg } = await mermaid.render('chart' + index, chart)
      const holder = document.createElement('div')
      holder.innerHTML = svg
      document.body.appendChild(holder)
      results.push([...holder.querySelectorAll('.tick text')].map(label => {
        const box = label.getBoundingClientRect()
        return { text: label.textContent, left: box.left, right: box.right }
      }).filter(tick => tick.text !== '').sort((a, b) => a.left - b.left))
    }
    out.textContent = JSON.stringify(results)
  } catch (error) {
    out.textContent = 'ERROR ' + error
  }
})()
</script></body></html>`
  )
  const run = spawnSync(
    CHROMIUM,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--allow-file-access-from-files',
      '--virtual-time-budget=30000',
      '--dump-dom',
      `file://${page}`
    ],
    { encoding: 'utf8', timeout: 120_000 }
  )
  if (run.error)
    throw new Error(`Chromium is needed: apt-get install -y chromium (${run.error.message})`)
  const [, text] = /<pre id="out">([^<]*)<\/pre>/.exec(run.stdout) ?? []
  if (!text || text.startsWith('ERROR') || text === 'pending')
    throw new Error(`Mermaid did not render in Chromium: ${text ?? run.stderr.slice(-500)}`)
  return JSON.parse(text) as Tick[][]
}

const BASE = Date.UTC(2026, 11, 6, 9, 59, 57)

/** A deploy of `seconds` on one host, its phases in the usual proportions. */
function deployOf(seconds: number): string {
  const shares: [PhaseName, number][] = [
    ['connect', 0.05],
    ['lock', 0.02],
    ['upload', 0.2],
    ['prepare', 0.3],
    ['stop', 0.08],
    ['start', 0.05],
    ['verify', 0.25],
    ['prune', 0.05]
  ]
  let at = BASE
  const phases = shares.map(([phase, share]) => {
    const timing = { phase, startedAt: at, seconds: seconds * share, ok: true }
    at += seconds * share * 1000
    return timing
  })
  return timelineChart([{ host: 'app.example.com:22', phases }])
}

/** What is wrong with these labels, in words: overlaps and repeats. */
function problems(ticks: Tick[]): string[] {
  const found: string[] = []
  ticks.slice(1).forEach((tick, index) => {
    const before = ticks[index]
    if (tick.left < before.right + GAP_PX)
      found.push(
        `${before.text} and ${tick.text} overlap (${before.right.toFixed(1)} > ${tick.left.toFixed(1)})`
      )
  })
  const texts = ticks.map(tick => tick.text)
  texts.forEach((text, index) => {
    if (texts.indexOf(text) !== index) found.push(`${text} repeats`)
  })
  return found
}

describe('the timeline as rendered (Mermaid in Chromium)', () => {
  const SPANS = [5, 10, 15, 30, 60, 90, 150, 300, 600]

  it('keeps its tick labels apart and distinct for deploys from 5 s to 10 min', () => {
    const rendered = renderedTicks(SPANS.map(deployOf))
    const report = Object.fromEntries(
      SPANS.map((span, index) => [`${span} s`, problems(rendered[index])])
    )
    expect(report).toEqual(Object.fromEntries(SPANS.map(span => [`${span} s`, []])))
    // Labelled at all: at least two ticks, so a reader can tell the scale.
    for (const ticks of rendered) expect(ticks.length).toBeGreaterThanOrEqual(2)
  }, 180_000)

  it('catches labels that overlap or repeat (the measure itself works)', () => {
    // Ten minutes at a tick a second, and a format without seconds: smeared and repeated.
    const tooFine = deployOf(600).replace(/tickInterval \S+/, 'tickInterval 1second')
    const repeated = deployOf(30).replace('%H:%M:%S', '%H:%M')
    const [smeared, same] = renderedTicks([tooFine, repeated])
    expect(problems(smeared).some(problem => problem.includes('overlap'))).toBe(true)
    expect(problems(same).some(problem => problem.includes('repeats'))).toBe(true)
  }, 180_000)
})

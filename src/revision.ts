import * as core from '@actions/core'
import { execFileSync } from 'node:child_process'

function gitHead(source: string): string | undefined {
  try {
    const output = execFileSync('git', ['-C', source, 'rev-parse', '--verify', 'HEAD'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore']
    })
    return output.trim().toLowerCase() || undefined
  } catch {
    return undefined
  }
}

/** The commit to stamp and verify: the `sha` input, else HEAD of `source`, else GITHUB_SHA. */
export function resolveSha(given: string | undefined, source: string): string {
  if (given) return given
  const head = gitHead(source)
  const fromEnv = process.env.GITHUB_SHA?.trim().toLowerCase() || undefined
  if (head && fromEnv && head !== fromEnv) {
    // A dispatch or schedule run checks out the ref it was given; only on a push does a checkout
    // that is not the pushed commit suggest a mistake.
    const event = process.env.GITHUB_EVENT_NAME
    const text = `HEAD of '${source}' is ${head}, not GITHUB_SHA ${fromEnv}; deploying HEAD (what is on disk)`
    if (event === 'push') core.warning(`${text}. Set the sha input to choose.`)
    else core.info(`${text}, as the ${event ?? 'workflow'} run checked it out.`)
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

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
    core.warning(
      `HEAD of '${source}' is ${head} but GITHUB_SHA is ${fromEnv}; deploying HEAD (what is on disk). Set the sha input to choose.`
    )
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

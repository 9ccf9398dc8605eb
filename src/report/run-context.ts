import { context } from '@actions/github'

/** The workflow run this action runs in, from @actions/github's context. */
export interface RunContext {
  /** `owner/repo`, when the run is in a repository. */
  repository?: { owner: string; repo: string }
  /** Link to the run, or a phrase saying there is none (a run outside GitHub Actions). */
  runUrl: string
  /** The run's URL when there is one, for the deployment status's log_url. */
  logUrl?: string
  event: string
  sha: string
}

export function runContext(): RunContext {
  // context.repo throws without GITHUB_REPOSITORY (a run outside Actions): read it guarded.
  const repository = process.env.GITHUB_REPOSITORY ? context.repo : undefined
  const logUrl =
    repository && context.runId
      ? `${context.serverUrl}/${repository.owner}/${repository.repo}/actions/runs/${context.runId}`
      : undefined
  return {
    repository,
    runUrl: logUrl ?? 'a run outside GitHub Actions',
    logUrl,
    event: context.eventName,
    sha: context.sha
  }
}

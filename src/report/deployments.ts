import * as core from '@actions/core'
import { errorText } from '../model/phase.js'
import { getOctokit } from '@actions/github'
import { saveDeployment } from '../model/post-state.js'
import { runContext } from './run-context.js'
import type { Settings } from '../inputs/settings.js'
import { info } from './host-text.js'

type Octokit = ReturnType<typeof getOctokit>

/** What the API said, in words: a missing permission gets the exact fix. */
function explainApiError(error: unknown, what: string): string {
  const status = (error as { status?: number }).status
  const message = errorText(error)
  if (status === 403 || status === 401 || status === 404) {
    return (
      `Could not ${what} (HTTP ${status}: ${message}). The token needs the deployments: write permission: ` +
      'add "permissions: { contents: read, deployments: write }" to the job (or the workflow), or pass a token that has it as github-token.'
    )
  }
  return `Could not ${what}${status ? ` (HTTP ${status})` : ''}: ${message}`
}

/**
 * A GitHub deployment of the commit to `environment`, with statuses that follow the deploy. Every
 * API failure is a warning: the deployment record never fails or blocks the deploy itself.
 */
export class GitHubDeployment {
  private constructor(
    private readonly octokit: Octokit,
    private readonly repository: { owner: string; repo: string },
    readonly id: number,
    private readonly settings: Settings
  ) {}

  /** Creates the deployment and marks it in_progress; undefined without `environment` (no API call). */
  static async start(
    settings: Settings,
    sha: string,
    hosts: string[]
  ): Promise<GitHubDeployment | undefined> {
    const environment = settings.environment
    if (!environment) return undefined
    const run = runContext()
    if (!run.repository) {
      core.warning(
        `environment '${environment}' is set, but GITHUB_REPOSITORY is not: no GitHub deployment is recorded outside a workflow run.`
      )
      return undefined
    }
    const octokit = getOctokit(settings.githubToken ?? '')
    let id: number
    try {
      const created = await octokit.rest.repos.createDeployment({
        ...run.repository,
        ref: sha,
        environment,
        auto_merge: false,
        required_contexts: [],
        description: `Verified SSH Deploy to ${hosts.join(', ')}`.slice(0, 140)
      })
      if (!('id' in created.data))
        throw new Error(created.data.message ?? 'no deployment was created')
      id = created.data.id
    } catch (error) {
      core.warning(explainApiError(error, `create a GitHub deployment to ${environment}`), {
        title: 'GitHub deployment'
      })
      return undefined
    }
    const deployment = new GitHubDeployment(octokit, run.repository, id, settings)
    saveDeployment(id)
    info(`GitHub deployment ${id} to ${environment} created for ${sha}`)
    await deployment.status('in_progress', 'Deploying')
    return deployment
  }

  /** The deployment a cancelled run created, for the post step to finish (undefined outside a run). */
  static resume(settings: Settings, id: number): GitHubDeployment | undefined {
    const { repository } = runContext()
    if (!repository || !settings.environment) return undefined
    return new GitHubDeployment(getOctokit(settings.githubToken ?? ''), repository, id, settings)
  }

  /** The final status: success (with environment-url), or failure saying whether the rollback held. */
  async finish(success: boolean, rolledBack: boolean): Promise<void> {
    if (success) {
      await this.status('success', 'Deployed and verified', this.settings.environmentUrl)
    } else {
      await this.status(
        'failure',
        rolledBack
          ? 'Failed; the previous release was restored and verified'
          : 'Failed; no rollback held'
      )
    }
  }

  /** The run was cancelled: the post step finishes (or rolls back) what the host was doing. */
  async cancelled(): Promise<void> {
    await this.status('failure', 'Cancelled; the post step verifies the release, or rolls it back')
  }

  private async status(
    state: 'in_progress' | 'success' | 'failure',
    description: string,
    environmentUrl?: string
  ): Promise<void> {
    const run = runContext()
    try {
      await this.octokit.rest.repos.createDeploymentStatus({
        ...this.repository,
        deployment_id: this.id,
        state,
        description,
        log_url: run.logUrl,
        ...(environmentUrl ? { environment_url: environmentUrl } : {}),
        auto_inactive: state === 'success'
      })
    } catch (error) {
      core.warning(explainApiError(error, `set GitHub deployment ${this.id} to ${state}`), {
        title: 'GitHub deployment'
      })
    }
  }
}

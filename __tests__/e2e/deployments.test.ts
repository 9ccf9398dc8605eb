/**
 * GitHub deployments through a small HTTP server standing in for the REST API (GITHUB_API_URL
 * points at it): the requests' paths, bodies and Authorization header, and that an API failure
 * never fails a deploy that otherwise succeeded.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { createServer, type Server } from 'node:http'
import { join } from 'node:path'
import { logShows, runAction } from '../support/action.js'
import { deployInputs, useSshd } from '../support/deploy.js'
import { serviceSource, sha } from '../support/service.js'
import { type TestSshd } from '../support/sshd.js'
import { write } from '../support/tree.js'

let sshd: TestSshd
useSshd(started => (sshd = started))

interface ApiRequest {
  method: string
  path: string
  authorization?: string
  body: Record<string, unknown>
}

const requests: ApiRequest[] = []
/** How the stand-in API answers: normally, or with an error on deployments or statuses. */
let mode: 'ok' | 'forbidden' | 'statuses-fail' = 'ok'
let server: Server
let apiUrl: string

beforeAll(async () => {
  server = createServer((request, response) => {
    let text = ''
    request.on('data', chunk => (text += chunk))
    request.on('end', () => {
      const path = request.url ?? ''
      requests.push({
        method: request.method ?? '',
        path,
        authorization: request.headers.authorization,
        body: text ? (JSON.parse(text) as Record<string, unknown>) : {}
      })
      const reply = (status: number, body: unknown) => {
        response.writeHead(status, { 'content-type': 'application/json' })
        response.end(JSON.stringify(body))
      }
      if (mode === 'forbidden' && path.endsWith('/deployments'))
        return reply(403, { message: 'Resource not accessible by integration' })
      if (mode === 'statuses-fail' && path.includes('/statuses'))
        return reply(500, { message: 'Server Error' })
      if (path === '/repos/acme/shop/deployments') return reply(201, { id: 4242 })
      if (path === '/repos/acme/shop/deployments/4242/statuses') return reply(201, { id: 1 })
      reply(404, { message: 'Not Found' })
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const address = server.address() as { port: number }
  apiUrl = `http://127.0.0.1:${address.port}`
})
afterAll(() => new Promise<void>(resolve => server.close(() => resolve())))

const TOKEN = 'ghs_StandInToken0123456789abcdef'
const RUN_URL = 'https://github.example/acme/shop/actions/runs/77'

async function deployWithEnvironment(name: string, overrides: Record<string, string> = {}) {
  const source = serviceSource()
  const inputs = await deployInputs(sshd, source, join(sshd.dir, name), {
    environment: 'production',
    'environment-url': 'https://shop.example.com',
    'github-token': TOKEN,
    ...overrides
  })
  const env = {
    GITHUB_API_URL: apiUrl,
    GITHUB_REPOSITORY: 'acme/shop',
    GITHUB_RUN_ID: '77',
    GITHUB_SERVER_URL: 'https://github.example'
  }
  return { source, inputs, env }
}

describe('GitHub deployments', () => {
  it('a verified deploy: a deployment of the SHA, in_progress, then success with the URL and the run', async () => {
    requests.length = 0
    mode = 'ok'
    const { inputs, env } = await deployWithEnvironment('deployments-ok')
    const result = await runAction({ ...inputs, sha: sha('1') }, { env })
    expect(result.code).toBe(0)
    expect(result.outputs['deployment-id']).toBe('4242')
    expect(requests.map(request => [request.method, request.path])).toEqual([
      ['POST', '/repos/acme/shop/deployments'],
      ['POST', '/repos/acme/shop/deployments/4242/statuses'],
      ['POST', '/repos/acme/shop/deployments/4242/statuses']
    ])
    expect(requests[0].body).toMatchObject({
      ref: sha('1'),
      environment: 'production',
      auto_merge: false,
      required_contexts: [],
      description: `Verified SSH Deploy to 127.0.0.1:${sshd.port}`
    })
    expect(requests[1].body).toMatchObject({ state: 'in_progress', log_url: RUN_URL })
    // environment-url arrives as given: URL.href would have sent https://shop.example.com/.
    expect(requests[2].body).toMatchObject({
      state: 'success',
      environment_url: 'https://shop.example.com',
      log_url: RUN_URL
    })
    for (const request of requests) expect(request.authorization).toBe(`token ${TOKEN}`)
    // Masked (the runner hides the ::add-mask:: command itself), and never printed otherwise.
    expect(result.stdout).toContain(`::add-mask::${TOKEN}\n`)
    expect(result.stdout.replace(`::add-mask::${TOKEN}\n`, '')).not.toContain(TOKEN.slice(4))
  })

  it('a failed deploy that rolled back: the final status is failure, saying the rollback held', async () => {
    requests.length = 0
    mode = 'ok'
    const { source, inputs, env } = await deployWithEnvironment('deployments-rollback')
    expect((await runAction({ ...inputs, sha: sha('1') }, { env })).code).toBe(0)
    requests.length = 0
    write(source, 'STAMP_FROM', '/nonexistent\n')
    const failed = await runAction({ ...inputs, sha: sha('2'), 'version-timeout': '3' }, { env })
    expect(failed.code).toBe(1)
    expect(failed.outputs['rolled-back']).toBe('true')
    expect(requests.at(-1)?.body).toMatchObject({
      state: 'failure',
      description: 'Failed; the previous release was restored and verified'
    })
  })

  it('without deployments: write (403), a warning names the permission and the deploy still succeeds', async () => {
    requests.length = 0
    mode = 'forbidden'
    const { inputs, env } = await deployWithEnvironment('deployments-forbidden')
    const result = await runAction({ ...inputs, sha: sha('1') }, { env })
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(
      /^::warning title=GitHub deployment::Could not create a GitHub deployment to production \(HTTP 403: .*\)\. The token needs the deployments: write permission: add "permissions: \{ contents: read, deployments: write \}"/m
    )
    expect(requests).toHaveLength(1)
    expect(result.outputs['deployment-id']).toBe('')
  })

  it('a failing API (500 on statuses) is a warning, never a failed deploy', async () => {
    requests.length = 0
    mode = 'statuses-fail'
    const { inputs, env } = await deployWithEnvironment('deployments-500')
    const result = await runAction({ ...inputs, sha: sha('1') }, { env })
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(
      /^::warning title=GitHub deployment::Could not set GitHub deployment 4242 to success \(HTTP 500\)/m
    )
  })

  it('a cancelled run marks the deployment failed before it exits; the post step, having verified, marks it success', async () => {
    requests.length = 0
    mode = 'ok'
    const { inputs, env } = await deployWithEnvironment('deployments-cancelled')
    const cancelled = await runAction(
      { ...inputs, sha: sha('1'), 'start-command': `${inputs['start-command']} --listen-delay 5` },
      {
        env,
        whileRunning: async child => {
          await logShows(child, /::group::\S+: verify\n/)
          child.kill('SIGINT')
        }
      }
    )
    expect(cancelled.code).toBe(1)
    expect(requests.at(-1)?.body).toMatchObject({
      state: 'failure',
      description: 'Cancelled; the post step verifies the release, or rolls it back'
    })
    // The post step verifies the release the cancelled run switched to, and says so on GitHub.
    const post = await runAction(
      { ...inputs, sha: sha('1') },
      { env, entry: 'post', state: cancelled.state }
    )
    expect(post.code).toBe(0)
    expect(post.stdout).toContain('the post step verified')
    expect(requests.at(-1)).toMatchObject({
      path: '/repos/acme/shop/deployments/4242/statuses',
      body: { state: 'success', environment_url: 'https://shop.example.com' }
    })
  })

  it('without environment, no API call at all', async () => {
    requests.length = 0
    mode = 'ok'
    const { inputs, env } = await deployWithEnvironment('deployments-none', { environment: '' })
    const result = await runAction({ ...inputs, sha: sha('1') }, { env })
    expect(result.code).toBe(0)
    expect(requests).toEqual([])
    expect(result.outputs['deployment-id']).toBe('')
  })
})

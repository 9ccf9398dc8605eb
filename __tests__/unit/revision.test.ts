import { afterEach, describe, expect, it, jest } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const warning = jest.fn<(message: string) => void>()
const info = jest.fn<(message: string) => void>()
jest.unstable_mockModule('@actions/core', () => ({ warning, info }))
// The toolkit's context reads the environment once, at import; these tests change it per case.
jest.unstable_mockModule('@actions/github', () => ({
  context: {
    get sha() {
      return process.env.GITHUB_SHA
    },
    get eventName() {
      return process.env.GITHUB_EVENT_NAME
    }
  }
}))
const { resolveSha } = await import('../../src/inputs/revision.js')

function gitRepo(): { dir: string; head: string } {
  const dir = mkdtempSync(join(tmpdir(), 'vsd-git-'))
  const git = (...args: string[]) =>
    execFileSync(
      'git',
      ['-C', dir, '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args],
      { encoding: 'utf8' }
    ).trim()
  git('init', '-q')
  writeFileSync(join(dir, 'app.py'), '')
  git('add', '.')
  git('commit', '-qm', 'init')
  return { dir, head: git('rev-parse', 'HEAD') }
}

const saved = { sha: process.env.GITHUB_SHA, event: process.env.GITHUB_EVENT_NAME }
afterEach(() => {
  if (saved.sha === undefined) delete process.env.GITHUB_SHA
  else process.env.GITHUB_SHA = saved.sha
  if (saved.event === undefined) delete process.env.GITHUB_EVENT_NAME
  else process.env.GITHUB_EVENT_NAME = saved.event
  warning.mockClear()
  info.mockClear()
})

describe('resolveSha', () => {
  it('prefers the sha input', async () => {
    expect(await resolveSha('a'.repeat(40), '/nonexistent')).toBe('a'.repeat(40))
  })

  it('uses HEAD of a git work tree; a push whose checkout is another commit warns', async () => {
    const { dir, head } = gitRepo()
    process.env.GITHUB_SHA = 'b'.repeat(40)
    process.env.GITHUB_EVENT_NAME = 'push'
    expect(await resolveSha(undefined, dir)).toBe(head)
    expect(warning.mock.calls[0][0]).toContain(
      `HEAD of '${dir}' is ${head}, not GITHUB_SHA ${'b'.repeat(40)}; deploying HEAD`
    )
  })

  it('a workflow_dispatch redeploying a chosen ref only says what it deploys', async () => {
    const { dir, head } = gitRepo()
    process.env.GITHUB_SHA = 'b'.repeat(40)
    process.env.GITHUB_EVENT_NAME = 'workflow_dispatch'
    expect(await resolveSha(undefined, dir)).toBe(head)
    expect(warning).not.toHaveBeenCalled()
    expect(info.mock.calls[0][0]).toContain('as the workflow_dispatch run checked it out')
  })

  it('falls back to GITHUB_SHA outside a work tree, and fails clearly with neither', async () => {
    const plain = mkdtempSync(join(tmpdir(), 'vsd-plain-'))
    process.env.GITHUB_SHA = 'C'.repeat(40)
    expect(await resolveSha(undefined, plain)).toBe('c'.repeat(40))
    delete process.env.GITHUB_SHA
    await expect(resolveSha(undefined, plain)).rejects.toThrow(
      'sha: cannot tell which commit is being deployed'
    )
  })
})

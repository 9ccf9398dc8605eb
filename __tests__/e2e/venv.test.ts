/**
 * python-requirements: a managed virtualenv per set of dependencies, built in prepare, reused when
 * they are unchanged, rolled back with its release, pruned when no kept release uses it. The
 * dependency is a wheel made in the test, installed with pip from a local directory.
 */
import { describe, expect, it } from '@jest/globals'
import { readdirSync, readFileSync, readlinkSync, renameSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { currentRelease, deploy, deployInputs, failureMessage, useSshd } from '../support/deploy.js'
import { reportedCommit, serviceSource, sha } from '../support/service.js'
import { type TestSshd } from '../support/sshd.js'
import { treeDigest, write } from '../support/tree.js'
import { wheelhouse } from '../support/wheels.js'

let sshd: TestSshd
useSshd(started => (sshd = started), { stopServicesAfterEach: true })

const wheels = wheelhouse('vsddep', '1.0', '2.0')

/** What the running service says it imported: `name version path`. */
async function dependencyOf(port: number): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}/version`)
  return ((await response.json()) as { dependency: string }).dependency
}

/** The test service, importing vsddep at start (its DEPENDENCY file), pinned by requirements.txt. */
async function venvInputs(target: string, version: string, overrides: Record<string, string> = {}) {
  const source = serviceSource()
  write(source, 'DEPENDENCY', 'vsddep\n')
  write(source, 'requirements.txt', `vsddep==${version}\n`)
  const inputs = await deployInputs(sshd, source, target, {
    'python-requirements': 'requirements.txt',
    env: `PYTHONDONTWRITEBYTECODE=1\nPIP_NO_INDEX=1\nPIP_FIND_LINKS=${wheels}\nPIP_DISABLE_PIP_VERSION_CHECK=1`,
    ...overrides
  })
  return { source, inputs, port: Number(inputs.ports) }
}

const venvs = (target: string) => readdirSync(join(target, '.deploy/venvs')).sort()
const VENV_KEY = /^[0-9a-f]{16}-[a-z]+-\d+\.\d+\.\d+$/

describe('python-requirements', () => {
  it('builds the venv once, reuses it for code-only deploys, rolls back with the release, and prunes what no kept release uses', async () => {
    const target = join(sshd.dir, 'venv-releases')
    const { source, inputs, port } = await venvInputs(target, '1.0', {
      'python-import-check': 'vsdsvc'
    })

    const first = await deploy({ ...inputs, sha: sha('1') })
    expect(first.outputs['venv-reused']).toBe('false')
    const [key1] = venvs(target)
    expect(key1).toMatch(VENV_KEY)
    expect(first.stdout).toMatch(
      new RegExp(`^Built the venv \\S+/\\.deploy/venvs/${key1} in `, 'm')
    )
    const venv1 = join(target, '.deploy/venvs', key1)
    expect(readlinkSync(join(target, 'releases', first.outputs.release, '.venv'))).toBe(venv1)
    expect(await dependencyOf(port)).toMatch(
      new RegExp(`^vsddep 1\\.0 ${venv1}/lib/python3\\.\\d+/site-packages/vsddep/__init__\\.py$`)
    )
    const venv1Digest = treeDigest(venv1)

    write(source, 'NOTES', 'a code-only change\n')
    // migrate-command runs with the venv active: its python imports the dependencies.
    const second = await deploy({
      ...inputs,
      sha: sha('2'),
      'migrate-command':
        'python -c "import vsddep; print(\'migrate imports vsddep from\', vsddep.__file__)"'
    })
    expect(second.stdout).toMatch(
      /^migrate imports vsddep from \S+\/(\.venv|\.deploy\/venvs\/[^/]+)\/lib\/python3\.\d+\/site-packages\/vsddep\/__init__\.py$/m
    )
    expect(second.outputs['venv-reused']).toBe('true')
    expect(second.stdout).toMatch(new RegExp(`^Reused the venv \\S+/${key1}: `, 'm'))
    expect(venvs(target)).toEqual([key1])

    // New dependencies and broken code: the rollback returns to the old code and the old venv.
    write(source, 'requirements.txt', 'vsddep==2.0\n')
    write(source, 'STAMP_FROM', '/nonexistent\n') // the new code reports no commit
    const failed = await deploy({ ...inputs, sha: sha('3'), 'version-timeout': '5' }, 1)
    expect(failed.outputs['venv-reused']).toBe('false')
    expect(failureMessage(failed)).toContain(`Rolled back to ${second.outputs.release}`)
    // Nothing is redone for the release rolled back to: its import check passed when it was
    // deployed, and its venv is still there; it starts at once.
    const rollbackLog = failed.stdout.slice(failed.stdout.indexOf(': rollback\n'))
    expect(rollbackLog).not.toContain('python-import-check')
    expect(currentRelease(target)).toBe(`releases/${second.outputs.release}`)
    expect(await reportedCommit(port)).toBe(sha('2'))
    expect(await dependencyOf(port)).toMatch(/^vsddep 1\.0 /)
    expect(treeDigest(venv1)).toEqual(venv1Digest)
    const key2 = venvs(target).find(key => key !== key1) as string
    expect(key2).toMatch(VENV_KEY)

    // The same bump with good code lands, on the venv the failed deploy built.
    rmSync(join(source, 'STAMP_FROM'))
    const bumped = await deploy({ ...inputs, sha: sha('4') })
    expect(bumped.outputs['venv-reused']).toBe('true')
    expect(await dependencyOf(port)).toMatch(/^vsddep 2\.0 /)

    // keep-releases 1 keeps only the live release, so only its venv stays.
    const pruned = await deploy({ ...inputs, sha: sha('5'), 'keep-releases': '1' })
    expect(pruned.stdout).toContain(`Removed venv(s) no kept release uses: ${key1}`)
    expect(venvs(target)).toEqual([key2])
    expect(await dependencyOf(port)).toMatch(/^vsddep 2\.0 /)
  })

  it("a failing install fails prepare with the installer's last lines; the old service serves and nothing is left in venvs", async () => {
    const target = join(sshd.dir, 'venv-install-fails')
    const { source, inputs, port } = await venvInputs(target, '1.0')
    await deploy({ ...inputs, sha: sha('1') })
    const before = venvs(target)
    write(source, 'requirements.txt', 'vsddep==9.9\n')
    const failed = await deploy({ ...inputs, sha: sha('2') }, 1)
    const message = failureMessage(failed)
    expect(message).toContain(
      "prepare: python-install-command failed: 'pip install -r 'requirements.txt'' in a new venv. The half-built venv was removed and the old service still serves."
    )
    expect(message).toMatch(/No matching distribution found for vsddep==9\.9/)
    expect(venvs(target)).toEqual(before)
    expect(await reportedCommit(port)).toBe(sha('1'))
  })

  it('says so when the project itself is installed into the venv, where a rollback cannot reach it', async () => {
    const target = join(sshd.dir, 'venv-project-inside')
    const { source, inputs } = await venvInputs(target, '1.0', { 'python-import-check': 'vsddep' })
    // The project's package lives below the release root, so the installed copy wins the import.
    write(source, 'lib/vsddep/__init__.py', 'VERSION = "from the release"\n')
    const failed = await deploy({ ...inputs, sha: sha('1') }, 1)
    expect(failureMessage(failed)).toMatch(
      /prepare: python-import-check: 'import vsddep' in the new release resolves to \S+\/\.deploy\/venvs\/\S+, inside the managed venv: the project itself is installed there/
    )
  })

  it('in place: .venv in the target is switched to the new venv; a .venv the action did not make is refused', async () => {
    const target = join(sshd.dir, 'venv-in-place')
    write(target, '.venv/bin/python', 'the one someone made by hand\n')
    sshd.handOver(target)
    const { source, inputs, port } = await venvInputs(target, '1.0', { strategy: 'in-place' })
    const refused = await deploy({ ...inputs, sha: sha('1') }, 1)
    expect(failureMessage(refused)).toContain(
      `prepare: in-place: ${target}/.venv is not one the action made`
    )
    renameSync(join(target, '.venv'), join(target, '.venv.old'))
    await deploy({ ...inputs, sha: sha('1') })
    expect(await dependencyOf(port)).toMatch(/^vsddep 1\.0 /)
    write(source, 'requirements.txt', 'vsddep==2.0\n')
    await deploy({ ...inputs, sha: sha('2') })
    expect(await dependencyOf(port)).toMatch(/^vsddep 2\.0 /)
    const [live] = venvs(target)
    expect(venvs(target)).toHaveLength(1)
    expect(readlinkSync(join(target, '.venv'))).toBe(join(target, '.deploy/venvs', live))
    expect(readFileSync(join(target, '.venv.old/bin/python'), 'utf8')).toContain('by hand')
  })
})

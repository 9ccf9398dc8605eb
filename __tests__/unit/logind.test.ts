/**
 * logind.sh, the connect check for a logind that stops the user's processes at logout, under
 * dash, bash and busybox sh, against a stand-in loginctl (support/logind.ts): it speaks only
 * when KillUserProcesses=yes, the user does not linger and is not excluded.
 */
import { describe, expect, it } from '@jest/globals'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PROJECT_ROOT } from '../support/action.js'
import { fakeLogind, type LogindPolicy } from '../support/logind.js'

const SCRIPT = readFileSync(join(PROJECT_ROOT, 'src/host/connect/logind.sh'), 'utf8')
const user = execFileSync('id', ['-un'], { encoding: 'utf8' }).trim()

/** The tools the script runs besides loginctl, and nothing else (no loginctl of this machine). */
const tools = mkdtempSync(join(tmpdir(), 'vsd-logind-tools-'))
const where = (tool: string) =>
  execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim()
for (const tool of ['id', 'cat']) symlinkSync(where(tool), join(tools, tool))
const empty = join(tools, 'none')
mkdirSync(empty)

const SHELLS: [string, string[]][] = [
  ['dash', ['dash']],
  ['bash', ['bash', '--norc', '--noprofile']],
  ['busybox sh', ['busybox', 'sh']]
]

function check(shell: string[], policy: LogindPolicy | undefined): string {
  const bin = policy ? fakeLogind(policy).bin : empty
  const [command, ...args] = shell
  const result = spawnSync(where(command), [...args, '-c', SCRIPT], {
    encoding: 'utf8',
    env: { PATH: `${bin}:${tools}` }
  })
  expect(result.stderr).toBe('')
  expect(result.status).toBe(0)
  return result.stdout
}

const kills: LogindPolicy = { KillUserProcesses: 'yes', Linger: 'no' }

describe.each(SHELLS)('logind.sh under %s', (_name, shell) => {
  it('says so where logind stops the user at logout', () => {
    expect(check(shell, kills)).toBe(`logind kills ${user}\n`)
    expect(check(shell, { ...kills, KillOnlyUsers: `nobody ${user}` })).toBe(
      `logind kills ${user}\n`
    )
  })

  it.each<[string, LogindPolicy | undefined]>([
    ['no loginctl (no logind)', undefined],
    ['KillUserProcesses=no', { ...kills, KillUserProcesses: 'no' }],
    ['the user lingers', { ...kills, Linger: 'yes' }],
    ['the user is in KillExcludeUsers', { ...kills, KillExcludeUsers: `nobody ${user}` }],
    ['KillOnlyUsers names others only', { ...kills, KillOnlyUsers: 'nobody' }]
  ])('says nothing where %s', (_case, policy) => {
    expect(check(shell, policy)).toBe('')
  })
})

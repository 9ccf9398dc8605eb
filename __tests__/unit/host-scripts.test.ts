/**
 * The host scripts kept as files (src/host): each .sh passes shellcheck as POSIX sh, and each .awk
 * is accepted by the awks a host may have: busybox's, mawk (Debian's default) and gawk (POSIX mode);
 * each .py compiles.
 */
import { describe, expect, it } from '@jest/globals'
import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { PROJECT_ROOT } from '../support/action.js'

const HOST = join(PROJECT_ROOT, 'src/host')
/** The host scripts with this extension, as paths under src/host (grouped in folders by phase). */
const files = (ext: string) =>
  readdirSync(HOST, { recursive: true, encoding: 'utf8' }).filter(name => name.endsWith(ext))

/** Runs a tool, failing clearly (with the package to install) when it is missing. */
function run(command: string, args: string[], install: string) {
  const result = spawnSync(command, args, { encoding: 'utf8', input: '' })
  if (result.error) throw new Error(`${command} is needed: apt-get install -y ${install}`)
  return result
}

const AWKS: [string, string[], string][] = [
  ['busybox', ['awk'], 'busybox'],
  ['mawk', [], 'mawk'],
  ['gawk', ['--posix'], 'gawk']
]

describe('host scripts (src/host)', () => {
  it('are there (the listing works)', () => {
    expect(files('.sh')).toEqual(expect.arrayContaining(['library/library.sh', 'lock/lock.sh']))
    expect(files('.awk')).toEqual(['library/select-service.awk'])
  })

  for (const name of files('.sh')) {
    it(`${name} passes shellcheck (POSIX sh)`, () => {
      const result = run('shellcheck', ['--shell=sh', join(HOST, name)], 'shellcheck')
      expect(result.stdout).toBe('')
      expect(result.status).toBe(0)
    })
  }

  for (const name of files('.py')) {
    it(`${name} compiles under the host's Python`, () => {
      const result = run(
        'python3',
        [
          '-c',
          'import sys; compile(open(sys.argv[1]).read(), sys.argv[1], "exec")',
          join(HOST, name)
        ],
        'python3'
      )
      expect(result.stderr).toBe('')
      expect(result.status).toBe(0)
    })
  }

  for (const name of files('.awk')) {
    for (const [awk, flags, install] of AWKS) {
      it(`${name} parses under ${[awk, ...flags].join(' ')}`, () => {
        // With no files and empty input the program only parses and runs BEGIN and END.
        const result = run(awk, [...flags, '-v', 'self=1', '-f', join(HOST, name)], install)
        expect(result.stderr).toBe('')
        expect(result.status).toBe(0)
      })
    }
  }

  it('silence a file that may be missing before opening it: `2>/dev/null < FILE`', () => {
    // In `cmd < FILE 2>/dev/null` the shell opens FILE first, and says it is missing on the
    // stderr the log shows ("eval: cannot open …/holder/pid"), before the 2> applies.
    const sources = [
      ...files('.sh').map(name => join(HOST, name)),
      ...readdirSync(join(PROJECT_ROOT, 'src'), { recursive: true, encoding: 'utf8' })
        .filter(name => name.endsWith('.ts'))
        .map(name => join(PROJECT_ROOT, 'src', name))
    ]
    const late = sources.flatMap(file =>
      readFileSync(file, 'utf8')
        .split('\n')
        .filter(line =>
          /<\s*("[^"]*"|'[^']*'|\$\{[^}]*\}\S*|[^\s<>&|;]+)\s+2>\/dev\/null/.test(line)
        )
        .map(line => `${file}: ${line.trim()}`)
    )
    expect(late).toEqual([])
  })
})

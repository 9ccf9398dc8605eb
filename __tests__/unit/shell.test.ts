import { describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { quote, sh, ShellCode } from '../../src/remote/shell.js'

/** What a real POSIX sh makes of the code: its arguments, NUL-separated. */
function argsSeenBySh(code: ShellCode): string[] {
  const output = execFileSync('sh', ['-c', `printf '%s\\0' ${code.text}`], { encoding: 'utf8' })
  return output.split('\0').slice(0, -1)
}

describe('quote and sh', () => {
  const hostile = [
    'plain',
    'with space',
    "it's",
    '"double"',
    '$(touch pwned)',
    '`id`',
    '$HOME',
    'a\nb',
    '\\',
    '',
    '*',
    '-rf'
  ]

  it.each(hostile)('keeps %j as one literal word', value => {
    expect(argsSeenBySh(sh`${value}`)).toEqual([value])
  })

  it('expands arrays into several quoted words and splices ShellCode as is', () => {
    const code = sh`${['a b', "c'd"]} ${new ShellCode('"$HOME"')}`
    expect(argsSeenBySh(code)).toEqual(['a b', "c'd", process.env.HOME])
  })

  it('leaves finite numbers bare (for arithmetic) and refuses NUL bytes', () => {
    expect(sh`echo $((${40} + 2))`.text).toBe('echo $((40 + 2))')
    expect(() => sh`${Number.NaN}`).toThrow('not a finite number')
    expect(() => quote('a\0b')).toThrow('NUL')
  })
})

describe('sh literals', () => {
  it('keeps backslashes for the shell and unescapes only JS template escapes', () => {
    const code = sh`printf '%s\n' \( x \) \${HOME} \`id\``
    expect(code.text).toBe("printf '%s\\n' \\( x \\) ${HOME} `id`")
  })
})

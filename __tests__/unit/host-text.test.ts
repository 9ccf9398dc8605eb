/**
 * Outside text is data (host-text.ts): no line of it the action prints can be a workflow command
 * to the runner, whatever it holds, and every log line goes through that one function.
 */
import { describe, expect, it } from '@jest/globals'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { hostLine, hostLines } from '../../src/report/host-text.js'
import { PROJECT_ROOT } from '../support/action.js'
import { runnerCommands } from '../support/runner-commands.js'

/** What the action prints for `text`: each line made safe, as `info` prints them. */
const printed = (text: string) => hostLines(text).join('\n')

describe('hostLine', () => {
  it.each([
    '::error::x',
    '::warning file=a,line=1::x',
    '::notice::x',
    '::add-mask::x',
    '::stop-commands::token',
    '::save-state name=unverified::[]',
    '::set-output name=sha::x',
    '::group::x',
    '::debug::x',
    '  ::warning::indented',
    '\t::error::tab',
    '\u00a0::error::no-break space',
    '\u2028::error::line separator',
    '\ufeff::error::byte order mark',
    'text ##[error]x',
    '##[group]x',
    'a\r::error::carriage return',
    'a\r\n::error::crlf',
    'a\n::error::newline'
  ])('makes %j inert, and keeps its text readable', line => {
    expect(runnerCommands(printed(line))).toEqual([])
    expect(printed(line).replace(/\u200b/g, '')).toBe(line.replace(/\r\n?/g, '\n'))
  })

  it('leaves text that is no command as it is', () => {
    expect(hostLine('Welcome to host: 3 updates :: see ##')).toBe(
      'Welcome to host: 3 updates :: see ##'
    )
  })

  it('makes any line inert (random text around command syntax)', () => {
    const pieces = fc.constantFrom(
      '::',
      ':',
      '##[',
      '#',
      '[',
      ' ',
      '\t',
      '\r',
      '\n',
      '\u00a0',
      '\u2028',
      '\u200b',
      '\u0085',
      'error',
      'stop-commands',
      'x'
    )
    fc.assert(
      fc.property(
        fc.array(fc.oneof(pieces, fc.string({ maxLength: 4 })), { maxLength: 20 }),
        parts => {
          expect(runnerCommands(printed(parts.join('')))).toEqual([])
        }
      ),
      { numRuns: 2000 }
    )
  })
})

describe('the log', () => {
  it('is written only through info (host-text.ts): src has no other core.info', () => {
    const files = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap(entry =>
        entry.isDirectory()
          ? files(join(dir, entry.name))
          : entry.name.endsWith('.ts')
            ? [join(dir, entry.name)]
            : []
      )
    const direct = files(join(PROJECT_ROOT, 'src'))
      .filter(file => !file.endsWith('host-text.ts'))
      .filter(file =>
        /core\.info\(|process\.stdout\.write\(|console\.(log|info)\(/.test(
          readFileSync(file, 'utf8')
        )
      )
    expect(direct.map(file => file.slice(PROJECT_ROOT.length + 1))).toEqual([])
  })
})

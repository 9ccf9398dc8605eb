/**
 * The host protocol (protocol.ts): a host step's markers carry its key, so output that merely looks
 * like a marker is log text; the shell functions that ask about processes and steps.
 */
import { describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { hostLibrary } from '../../src/remote/host-library.js'
import { PROJECT_ROOT } from '../support/action.js'
import { runHostStep, stepOutcome } from '../../src/remote/host-step.js'
import type { Remote } from '../../src/remote/remote.js'
import { sh } from '../../src/remote/shell.js'
import {
  ANSWER_WORDS,
  answerOf,
  answersOf,
  EXIT,
  newStepKey,
  parseMarker,
  stepLine,
  type AnswerWord
} from '../../src/remote/protocol.js'

const key = '0123456789ab'

describe('host step markers', () => {
  it('reads only the lines that carry the key of the step named on the first line', () => {
    const step = stepOutcome(
      [
        stepLine(key),
        `@@${key} pid 42`,
        `@@${key} phase stop 10.5`,
        // A stop-command's output that looks like markers, the key of another step included.
        '@@exit 0',
        '@@phase start 11',
        '@@error forged',
        '@@data mark 1',
        `@@step ${newStepKey()}`,
        `@@${newStepKey()} exit 0 12`,
        `@@${key} data mark 7`,
        `@@${key} error stop-command exited with code 3`,
        `@@${key} exit 6 12.5`
      ].join('\n')
    )
    expect(step.exit).toEqual({ code: 6, uptime: 12.5 })
    expect(step.pid).toBe(42)
    expect(step.lastPhase('connect')).toBe('stop')
    expect([...step.outputs.keys()]).toEqual(['stop'])
    const stop = step.outputs.get('stop')
    expect(stop?.data).toEqual({ mark: '7' })
    expect(stop?.errors).toEqual(['stop-command exited with code 3'])
    expect(stop?.lines).toEqual([
      '@@exit 0',
      '@@phase start 11',
      '@@error forged',
      '@@data mark 1',
      expect.stringMatching(/^@@step /),
      expect.stringMatching(/^@@[0-9a-f]{12} exit 0 12$/)
    ])
  })

  it('reads the step line and markers wherever text before them puts them', () => {
    const step = stepOutcome(
      [
        `Welcome@@step ${key}`,
        `@@${key} phase stop 1`,
        `printf without newline@@${key} exit 4 2`
      ].join('\n')
    )
    expect(step.exit).toEqual({ code: 4, uptime: 2 })
    expect(step.outputs.get('stop')?.lines).toEqual(['printf without newline'])
  })

  it('says what it read of a step whose output ends without its exit line, and calls it no time-out', async () => {
    // The follower's output as a host gives it, with the key the runner chose for the step.
    const remote = {
      run: async (command: { text: string }, options: { onStdout?: (text: string) => void }) => {
        const named = /@@step ([0-9a-f]{12})/.exec(command.text)?.[1] as string
        const stdout = `@@step ${named}\n@@${named} pid 7\n@@${named} phase stop 1.5\nstopping\n`
        options.onStdout?.(stdout)
        return { code: 0, stdout, stderr: '' }
      }
    } as unknown as Remote
    const result = await runHostStep([{ phase: 'stop', body: sh`:` }], sh`:`, {
      label: 'web1',
      remote,
      outFile: '/srv/app/.deploy/restart.log',
      timeoutSeconds: 5,
      reattach: async () => remote
    })
    expect(result.unread).toBe(
      'the action read its output (the phases stop) to the end, but not the line that says how it ended'
    )
    expect(result.lastPhase).toBe('stop')
    expect(result.outputs.get('stop')?.lines).toEqual(['stopping'])
  })

  it('takes no line as a marker when the output has no step line', () => {
    const step = stepOutcome([`@@${key} phase stop 1`, `@@${key} exit 0 2`].join('\n'))
    expect(step.exit).toBeUndefined()
    expect(step.outputs.size).toBe(0)
  })

  it('parses a marker with and without its rest', () => {
    expect(parseMarker(`@@${key} absent`, key)).toEqual({ kind: 'absent', rest: '', before: '' })
    expect(parseMarker(`@@${key} data release 2026`, key)).toEqual({
      kind: 'data',
      rest: 'release 2026',
      before: ''
    })
    // Text printed without a final newline runs into the marker after it.
    expect(parseMarker(`hi@@${key} exit 0 1`, key)).toEqual({
      kind: 'exit',
      rest: '0 1',
      before: 'hi'
    })
    expect(parseMarker(`@@${key} unknown x`, key)).toBeUndefined()
    expect(parseMarker(`@@${key} exit 0 1`, undefined)).toBeUndefined()
  })

  it('gives each explained exit code one meaning', () => {
    const codes = Object.values(EXIT)
    expect(new Set(codes).size).toBe(codes.length)
  })
})

describe("host scripts' answer words", () => {
  const SOURCES = readdirSync(join(PROJECT_ROOT, 'src'), { recursive: true, encoding: 'utf8' })

  it('reads a word alone, with what follows it, on every line, and nowhere else', () => {
    const out =
      'released\nlive 2026-x\nrelease a verified 1\nrelease b bad\nreleased-not\n  live y\nold'
    expect(answerOf(out, 'released')).toBe('')
    expect(answerOf(out, 'live')).toBe('2026-x')
    expect(answersOf(out, 'release')).toEqual(['a verified 1', 'b bad'])
    // A word is a whole word at the start of a line: not a prefix, not indented.
    expect(answerOf('releasedx\n live z', 'released')).toBeUndefined()
    expect(answerOf('releasedx\n live z', 'live')).toBeUndefined()
    expect(answerOf(out, 'discarded')).toBeUndefined()
    expect(answersOf(out, 'free')).toEqual([])
  })

  it.each(Object.entries(ANSWER_WORDS) as [AnswerWord, string][])(
    '%s is printed by the script it names (%s)',
    (word, scripts) => {
      for (const script of scripts.split(', ')) {
        // The one file of that path under src/ (a host script, or the command module that builds it).
        const paths = SOURCES.filter(file => file === script || file.endsWith(`/${script}`))
        expect(paths).toHaveLength(1)
        const [path] = paths
        const text = readFileSync(join(PROJECT_ROOT, 'src', path), 'utf8')
        // printf 'WORD …', echo WORD, print "WORD", or a word the script's awk or sh prints.
        expect(text).toMatch(
          new RegExp(`(printf '|echo |print "|['" ])${word.replace('-', '\\-')}[ '"\\n]`)
        )
      }
    }
  )
})

describe('process and step functions (sh)', () => {
  const run = (script: string) =>
    execFileSync('/bin/sh', ['-c', `${hostLibrary().text}\n${script}`], { encoding: 'utf8' })

  it('process_alive: a running process, a zombie, and no process', () => {
    // A child that exits at once while its parent sleeps without waiting for it: a zombie.
    const out = run(`process_alive $$ && echo self
tmp=$(mktemp)
python3 -c 'import os, sys, time
pid = os.fork()
if pid == 0: os._exit(0)
open(sys.argv[1], "w").write(str(pid))
time.sleep(5)' "$tmp" &
zombie=; tries=0
while [ "$tries" -lt 200 ]; do
  read -r zombie < "$tmp"
  [ -n "$zombie" ] && grep -q '^[0-9]* ([^)]*) Z' "/proc/$zombie/stat" 2>/dev/null && break
  sleep 0.05; tries=$((tries + 1))
done
process_alive "$zombie" && echo zombie-alive || echo zombie-gone
[ -d "/proc/$zombie" ] && echo zombie-listed
kill $! 2>/dev/null
process_alive 999999999 || echo none
process_alive '' || echo empty`)
    expect(out.split('\n')).toEqual(['self', 'zombie-gone', 'zombie-listed', 'none', 'empty', ''])
  })

  it('step_running and step_marker read a step file by its key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vsd-protocol-'))
    const file = join(dir, 'restart.log')
    const check = `step_running "$1" && echo running || echo ended; step_marker "$1" exit; echo`
    const state = () =>
      execFileSync('/bin/sh', ['-c', `${hostLibrary().text}\n${check}`, 'sh', file], {
        encoding: 'utf8'
      })
    writeFileSync(file, `${stepLine(key)}\n@@${key} pid ${process.pid}\n@@exit 0 1\n`)
    expect(state()).toBe('running\n\n')
    writeFileSync(file, `${stepLine(key)}\n@@${key} pid ${process.pid}\n@@${key} exit 0 1.5\n`)
    expect(state()).toBe('ended\n0 1.5\n\n')
    writeFileSync(file, `@@step -\n@@pid ${process.pid}\n`)
    expect(state()).toBe('ended\n\n')
  })
})

import { randomBytes } from 'node:crypto'
import { sh, ShellCode } from './shell.js'

/**
 * The host protocol: what the action's host-side scripts tell it, apart from their logs. See
 * docs/architecture.md, "The host protocol".
 *
 * A host step's output file starts with `@@step KEY`, written before the step runs; KEY is random
 * per step. Every marker the step prints after that is `@@KEY KIND REST`. A line without the key
 * is log text, whoever wrote it: a stop-command that prints `@@exit 0` or `@@phase start` is
 * logged, never read as the step's own (the same idea as the token of GitHub's
 * `::stop-commands::`).
 */
export type MarkerKind = 'pid' | 'phase' | 'error' | 'data' | 'exit' | 'died' | 'absent'

const KEY_PATTERN = /^[0-9a-f]{12}$/

/** A key for one host step's markers. */
export function newStepKey(): string {
  return randomBytes(6).toString('hex')
}

/** The first line of a step's output file, naming the key of its markers. */
export function stepLine(key: string): string {
  return `@@step ${key}`
}

/**
 * The key a `@@step KEY` line names, or undefined for any other line. The line may carry text
 * before it (a login shell's start-up output that ended without a newline).
 */
export function stepKeyOf(line: string): string | undefined {
  const key = /@@step (\S+)$/.exec(line)?.[1]
  return key && KEY_PATTERN.test(key) ? key : undefined
}

/**
 * The one reader of keyed markers, for a host step's output and for the action's shell session
 * (remote.ts) alike: the marker of `key` in `line`, wherever the line puts it, with the text before
 * it (output that ended without a newline before the marker was printed: a login shell's start-up
 * file's `printf hi`, a command's last line). A marker always ends its line. Undefined for a line
 * without one: log text, whoever printed it.
 */
export function findMarker(
  line: string,
  key: string | undefined
): { before: string; kind: string; rest: string } | undefined {
  if (!key) return undefined
  const at = line.indexOf(`@@${key} `)
  if (at < 0) return undefined
  const match = /^([a-z]+)(?: (.*))?$/.exec(line.slice(at + key.length + 3))
  return match ? { before: line.slice(0, at), kind: match[1], rest: match[2] ?? '' } : undefined
}

const STEP_MARKERS = new Set<string>(['pid', 'phase', 'error', 'data', 'exit', 'died', 'absent'])

/** A marker line of the step with `key`: its kind and the rest; undefined for log text. */
export function parseMarker(
  line: string,
  key: string | undefined
): { kind: MarkerKind; rest: string; before: string } | undefined {
  const marker = findMarker(line, key)
  return marker && STEP_MARKERS.has(marker.kind)
    ? { kind: marker.kind as MarkerKind, rest: marker.rest, before: marker.before }
    : undefined
}

/** In a host step's own scripts: the printf argument that goes with a `@@%s KIND` format. */
export const STEP_KEY = new ShellCode('"$step_key"')

/** Sets the key a step's scripts mark their lines with (the first line of every host step). */
export function stepKeyScript(key: string): ShellCode {
  return sh`step_key=${key}`
}

/**
 * The exit codes of the host scripts that the action explains; any other non-zero code is a
 * plain failure. Distinct, so a code read back names one cause.
 */
export const EXIT = {
  /** wait-for-exit: processes or ports were still held after stop-timeout. */
  stillRunning: 3,
  /** start: the start-command failed. */
  startFailed: 4,
  /** stop: process-match matched too much; nothing was signalled. */
  patternTooBroad: 5,
  /** restart: the deploy lock is another run's now; nothing was stopped. */
  lockLost: 7,
  /** start: the port holder (hold-ports) could not listen; nothing was started. */
  holdFailed: 8,
  /** lock: the target or a parent is another user's, or writable by one; nothing was written. */
  unsafeTarget: 9,
  /** lock: another deploy held the lock for all of lock-timeout (EX_TEMPFAIL). */
  lockBusy: 75
} as const

/**
 * The words the action's host scripts answer with: each begins a line of a script's output, alone
 * (`released`) or followed by what it reports (`live NAME`). Declared here with the script that
 * prints each, so both ends of an answer are found together; read with answerOf and answersOf.
 */
export const ANSWER_WORDS = {
  /** The tool check (commands/connect.ts): a tool the host lacks; the user's $HOME; logind (logind.sh). */
  missing: 'commands/connect.ts',
  home: 'commands/connect.ts',
  logind: 'logind.sh',
  /** The lock (lock.sh, owned.sh, release-lock.sh). */
  broken: 'lock.sh',
  left: 'lock.sh',
  owner: 'lock.sh',
  unsafe: 'owned.sh',
  released: 'release-lock.sh',
  other: 'release-lock.sh',
  /** A release removed (commands/prune.ts discardReleaseScript, prune-venvs.sh). */
  discarded: 'commands/prune.ts',
  'removed-venv': 'prune-venvs.sh',
  /** What the host keeps (releases.sh) and the upload's inspection (inspect.sh). */
  live: 'releases.sh',
  release: 'releases.sh, inspect.sh',
  lock: 'releases.sh',
  manifest: 'inspect.sh',
  base: 'inspect.sh',
  'current-sha': 'inspect.sh',
  'free-kb': 'inspect.sh',
  /** The venv (venv.sh). */
  venv: 'venv.sh',
  /** The release to return to (fallback.sh). */
  candidate: 'fallback.sh',
  sha: 'fallback.sh',
  /** The host now, after a failed step (host-now.sh). */
  boot: 'host-now.sh',
  current: 'host-now.sh, inspect.sh',
  port: 'host-now.sh',
  /** Overlap: whether the port holder holds every port already (commands/restart.ts holderReadyScript). */
  holder: 'commands/restart.ts',
  /** Who serves (identity.sh, url-host.sh, commands/verify.ts newServiceScript). */
  old: 'identity.sh',
  stranger: 'identity.sh',
  free: 'identity.sh',
  recorded: 'identity.sh',
  answered: 'identity.sh',
  local: 'url-host.sh',
  address: 'url-host.sh',
  alive: 'commands/verify.ts',
  /** The watchdog's decision (decide.sh) and the journal (journal.ts). */
  mine: 'decide.sh',
  journal: 'library.sh'
} as const

export type AnswerWord = keyof typeof ANSWER_WORDS

/** The lines answering `word` (global, multiline: use a fresh one per search). */
export const answerLine = (word: AnswerWord) => new RegExp(`^${word}(?: (.*))?$`, 'gm')

/** What follows `word` on the first line answering with it ('' for the bare word); undefined when none does. */
export function answerOf(stdout: string, word: AnswerWord): string | undefined {
  const match = answerLine(word).exec(stdout)
  return match ? (match[1] ?? '') : undefined
}

/** What follows `word` on each line answering with it. */
export function answersOf(stdout: string, word: AnswerWord): string[] {
  return [...stdout.matchAll(answerLine(word))].map(match => match[1] ?? '')
}

/**
 * `npm run chaos`: a seeded run of N deploys of the test service through dist/index.js against a
 * real sshd, with random faults at random instants: a cancel as GitHub does it (SIGINT, SIGTERM
 * 7.5 s later, SIGKILL 2.5 s after that, then the post step), the runner killed (no post step) or
 * frozen (SIGSTOP: its connection stays open and silent), the SSH connections cut, two deploys at
 * once, the disk filled; some versions broken; some runs a rollback to a kept release or a restart
 * of the live one instead of a deploy. After each run it checks the invariants below and prints a
 * table of faults by phase and of violations by invariant.
 *
 *   CHAOS_DEPLOYS=100 CHAOS_SEED=1 npm run chaos     (root: it mounts a small disk for the target)
 *
 * Not part of `npm test`: 100 deploys take about half an hour, most of it waiting on faults.
 */
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { logShows, runAction, type ActionRun } from '../__tests__/support/action.js'
import { dryRunInputs } from '../__tests__/support/fixtures.js'
import {
  breakService,
  killServiceOnPort,
  reportedCommit,
  serviceSource
} from '../__tests__/support/service.js'
import { freePort, startSshd, type TestSshd } from '../__tests__/support/sshd.js'

const DEPLOYS = Number(process.env.CHAOS_DEPLOYS ?? 100)
const SEED = Number(process.env.CHAOS_SEED ?? 1)
const KEEP_RELEASES = 3

/** mulberry32: a small seeded generator, so a seed replays the same faults. */
function generator(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
const random = generator(SEED)
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]
const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

const FAULTS = ['none', 'cancel', 'killed', 'frozen', 'cut', 'concurrent', 'disk-full'] as const
type Fault = (typeof FAULTS)[number]
const WEIGHTS: Record<Fault, number> = {
  none: 3,
  cancel: 2,
  killed: 1,
  frozen: 1,
  cut: 2,
  concurrent: 1,
  'disk-full': 1
}
const PHASES = [
  'lock',
  'upload',
  'prepare',
  'stop',
  'wait-for-exit',
  'start',
  'verify',
  'prune'
] as const

function pickFault(): Fault {
  const total = Object.values(WEIGHTS).reduce((sum, weight) => sum + weight, 0)
  let roll = random() * total
  for (const fault of FAULTS) {
    roll -= WEIGHTS[fault]
    if (roll < 0) return fault
  }
  return 'none'
}

const INVARIANTS = [
  'the service answers',
  'it serves the commit the run reported (or the one before)',
  'no lock left (but a dead one the next deploy breaks)',
  'current is the serving release, unmarked',
  'shared data intact',
  `releases within keep-releases + 1`,
  'nothing left in .deploy/',
  'a cut once the restart began is survived'
] as const
type Invariant = (typeof INVARIANTS)[number]

interface World {
  sshd: TestSshd
  target: string
  port: number
  inputs: Record<string, string>
  good: string
  /** Broken versions: one that never listens, one whose service dies at import. */
  broken: string
  dies: string
  /** The commit serving after the last deploy, and shared/data's digest. */
  serving: string | undefined
  sharedDigest: string
}

function hex(length: number): string {
  return Array.from({ length }, () => Math.floor(random() * 16).toString(16)).join('')
}

const digest = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex')

/** Kills the sshd processes serving sessions (the listener's children), not the listener. */
function cutConnections(sshd: TestSshd): void {
  try {
    execFileSync('pkill', ['-KILL', '-P', String(sshd.process.pid)])
  } catch {
    // no session open at that instant
  }
}

function fillDisk(target: string): void {
  execFileSync('sh', ['-c', `dd if=/dev/zero of='${target}/filler' bs=64k 2>/dev/null || true`])
}

/** A run in progress, with the fault to play on it once `phase` begins. */
interface Outcome {
  run: ActionRun
  post?: ActionRun
  /** What the run (or its post step) said: success, failure, or nothing (killed). */
  said: 'success' | 'failure' | 'none'
  sha: string
}

/** What a run does: a deploy, a rollback to a kept release (by name), or a restart. */
interface Operation {
  name: 'deploy' | 'rollback' | 'restart'
  to?: string
}

/**
 * A rollback to a random kept release that passed verify and is not live, with the commit it
 * serves once live; undefined when there is none.
 */
function rollbackTarget(world: World): { to: string; sha: string } | undefined {
  const live = readlinkOr(join(world.target, 'current'))
  const candidates = readdirSync(join(world.target, 'releases')).filter(
    name =>
      !name.startsWith('.') &&
      `releases/${name}` !== live &&
      !['UNVERIFIED', 'BAD_RELEASE'].some(mark =>
        existsSync(join(world.target, 'releases', name, mark))
      ) &&
      readOr(join(world.target, 'releases', name, 'REVISION')).trim()
  )
  if (candidates.length === 0) return undefined
  const to = pick(candidates)
  return { to, sha: readOr(join(world.target, 'releases', to, 'REVISION')).trim() }
}

function readlinkOr(path: string): string {
  try {
    return readlinkSync(path)
  } catch {
    return ''
  }
}

/** What a run reported: its exit code, the host's result in its `hosts` output, its post step. */
function verdict(run: ActionRun, post?: ActionRun): Outcome['said'] {
  if (run.code === 0) return 'success'
  const hosts = JSON.parse(run.outputs.hosts || '[]') as { result: string }[]
  if (hosts.some(host => host.result === 'success')) return 'success'
  if (post) return /the post step verified/.test(post.stdout) ? 'success' : 'failure'
  return run.code === 1 ? 'failure' : 'none'
}

/** Plays `fault` on one deploy of `sha`, once the log shows `phase` (plus a random delay). */
async function deployWith(
  world: World,
  fault: Fault,
  phase: string,
  sha: string,
  source: string,
  operation: Operation = { name: 'deploy' }
): Promise<Outcome> {
  const inputs = {
    ...world.inputs,
    source,
    sha: operation.name === 'deploy' ? sha : '',
    operation: operation.name,
    'rollback-to': operation.to ?? ''
  }
  const delay = Math.floor(random() * 400)
  let frozenFor = 0
  const run = await runAction(inputs, {
    timeoutMs: 400_000,
    whileRunning: async child => {
      if (fault === 'none' || fault === 'concurrent') return
      const reached = await Promise.race([
        logShows(child, new RegExp(`::group::\\S+: ${phase}\\n`)).then(() => true),
        new Promise<boolean>(resolve => child.on('close', () => resolve(false)))
      ])
      if (!reached) return
      await sleep(delay)
      if (fault === 'cut') cutConnections(world.sshd)
      if (fault === 'disk-full') fillDisk(world.target)
      if (fault === 'killed') child.kill('SIGKILL')
      if (fault === 'frozen') {
        child.kill('SIGSTOP')
        frozenFor = 5000 + Math.floor(random() * 50_000)
        await sleep(frozenFor)
        child.kill('SIGCONT')
      }
      if (fault === 'cancel') {
        child.kill('SIGINT')
        const closed = new Promise(resolve => child.on('close', resolve))
        if (await Promise.race([closed.then(() => true), sleep(7500).then(() => false)])) return
        child.kill('SIGTERM')
        if (await Promise.race([closed.then(() => true), sleep(2500).then(() => false)])) return
        child.kill('SIGKILL')
      }
    }
  })
  // GitHub runs the post step after a cancel; a killed runner has none.
  const post =
    fault === 'cancel'
      ? await runAction(inputs, { entry: 'post', state: run.state, timeoutMs: 900_000 })
      : undefined
  return { run, post, said: verdict(run, post), sha }
}

/** The run's first error annotation (or its post step's), shortened, for the log. */
function firstError(outcome: Outcome): string {
  const lines = `${outcome.run.stdout}\n${outcome.post?.stdout ?? ''}`.split('\n')
  const error = lines.find(line => line.startsWith('::error')) ?? '(no error annotation)'
  return error.replace(/%0A/g, ' / ').slice(0, 300)
}

/** Waits until no host step, watchdog or live lock is left on the host (at most 120 s). */
async function settled(world: World): Promise<void> {
  const lock = join(world.target, '.deploy/lock')
  const deadline = Date.now() + 120_000
  while (Date.now() < deadline) {
    if (!existsSync(lock)) return
    const watchdog = readOr(join(lock, 'watchdog.pid')).trim()
    const beat = Number(readOr(join(lock, 'heartbeat')).trim())
    const uptime = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0])
    const watching = /^\d+$/.test(watchdog) && existsSync(`/proc/${watchdog}`)
    if (!watching && uptime - beat > 30) return
    await sleep(500)
  }
}

function readOr(path: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return ''
  }
}

/** Checks every invariant after one deploy; returns the ones broken, with what was seen. */
/** Phases a lost connection must not fail: the host goes on, and the action reconnects. */
const RESUMED = ['stop', 'wait-for-exit', 'start', 'verify', 'prune']

async function check(
  world: World,
  outcomes: Outcome[],
  fault: { kind: Fault; phase: string; broken: boolean }
) {
  const killed = fault.kind === 'killed'
  const broken: { invariant: Invariant; seen: string }[] = []
  const fail = (invariant: Invariant, seen: string) => broken.push({ invariant, seen })
  let serving: string | undefined
  for (let tries = 0; tries < 30 && !serving; tries++) {
    serving = await reportedCommit(world.port)
    if (!serving) await sleep(500)
  }
  if (!serving) fail('the service answers', 'no answer on /version for 15 s')
  // Of several runs, the last to succeed is what serves; with none, what served before, unless a
  // run that could not say (killed) confirmed its release on the host.
  const journal = readOr(join(world.target, '.deploy/journal'))
  const succeeded = outcomes.filter(outcome => outcome.said === 'success')
  // A killed run writes no outputs: its release is known by the commit its name ends with.
  const confirmedUnsaid = outcomes.filter(
    outcome =>
      outcome.said === 'none' &&
      new RegExp(` confirmed \\S+-${outcome.sha.slice(0, 7)}\n`).test(journal)
  )
  const allowed = new Set<string | undefined>(
    succeeded.length > 0
      ? succeeded.map(outcome => outcome.sha)
      : [world.serving, ...confirmedUnsaid.map(outcome => outcome.sha)]
  )
  if (serving && !allowed.has(serving))
    fail(
      'it serves the commit the run reported (or the one before)',
      `serves ${serving.slice(0, 12)}; runs said ${outcomes.map(outcome => `${outcome.said} for ${outcome.sha.slice(0, 12)}`).join(', ')}; before: ${world.serving?.slice(0, 12)}`
    )
  const lock = join(world.target, '.deploy/lock')
  if (existsSync(lock) && !killed)
    fail('no lock left (but a dead one the next deploy breaks)', readOr(join(lock, 'owner')))
  const current = readOr(join(world.target, 'current/REVISION')).trim()
  const marks = ['UNVERIFIED', 'BAD_RELEASE'].filter(mark =>
    existsSync(join(world.target, 'current', mark))
  )
  if (serving && (current !== serving || marks.length > 0))
    fail(
      'current is the serving release, unmarked',
      `current holds ${current.slice(0, 12)}${marks.length ? ` marked ${marks.join(', ')}` : ''}`
    )
  if (digest(join(world.target, 'shared/data/notes.txt')) !== world.sharedDigest)
    fail('shared data intact', 'shared/data/notes.txt changed')
  const releases = readdirSync(join(world.target, 'releases'))
  if (releases.length > KEEP_RELEASES + 1)
    fail(`releases within keep-releases + 1`, `${releases.length}: ${releases.join(' ')}`)
  const left = readdirSync(join(world.target, '.deploy')).filter(name =>
    /\.tmp|^lock\.dead-|^lock-owner\.|^current\.tmp-/.test(name)
  )
  if (left.length > 0) fail('nothing left in .deploy/', left.join(' '))
  if (
    fault.kind === 'cut' &&
    !fault.broken &&
    RESUMED.includes(fault.phase) &&
    outcomes.some(outcome => outcome.said !== 'success')
  )
    fail('a cut once the restart began is survived', outcomes.map(firstError).join(' | '))
  world.serving = serving ?? world.serving
  return broken
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0)
    throw new Error('npm run chaos needs root: it adds a deploy user and mounts a small disk')
  // The test sshd's own deploy user, whose login shell reads no dotfiles: the cuts kill whatever
  // a session is running, and a login script killed halfway (a pyenv rehash) would leave its own
  // lock behind and slow every later login.
  const sshd = await startSshd()
  const work = mkdtempSync(join(tmpdir(), 'vsd-chaos-'))
  execFileSync('chmod', ['755', work])
  const target = join(work, 'srv')
  const unmount = sshd.mountDisk(target, '96m')
  const port = await freePort()
  const good = serviceSource()
  const broken = serviceSource()
  breakService(broken)
  const dies = serviceSource()
  writeFileSync(join(dies, 'vsdsvc/__init__.py'), 'raise SystemExit("broken at import")\n')
  mkdirSync(join(target, 'shared/data'), { recursive: true })
  writeFileSync(join(target, 'shared/data/notes.txt'), `kept across every deploy ${SEED}\n`)
  sshd.handOver(join(target, 'shared'))
  const world: World = {
    sshd,
    target,
    port,
    good,
    broken,
    dies,
    serving: undefined,
    sharedDigest: digest(join(target, 'shared/data/notes.txt')),
    inputs: {
      ...dryRunInputs(sshd, good),
      'dry-run': 'false',
      target,
      // Debian's python3: the deploy user has no pyenv.
      'start-command': `/usr/bin/python3 -m vsdsvc start --port ${port}`,
      ports: String(port),
      'version-url': `http://127.0.0.1:${port}/version`,
      'version-timeout': '5',
      'stable-for': '1',
      'keep-releases': String(KEEP_RELEASES),
      'shared-paths': 'data',
      'lock-timeout': '120',
      env: 'PYTHONDONTWRITEBYTECODE=1'
    }
  }
  const byPhase = new Map<string, number>()
  const violations = new Map<Invariant, string[]>()
  const started = Date.now()
  try {
    // A first, clean deploy: there is always a verified release to return to.
    const first = await deployWith(world, 'none', 'lock', hex(40), good)
    if (first.said !== 'success') throw new Error(`the first deploy failed:\n${first.run.stdout}`)
    world.serving = first.sha
    for (let index = 1; index <= DEPLOYS; index++) {
      let fault = pickFault()
      let phase: string = pick(PHASES)
      const roll = random()
      const back = roll < 0.1 ? rollbackTarget(world) : undefined
      // A rollback serves the kept release's commit; a restart the one live now.
      const operation: Operation = back
        ? { name: 'rollback', to: back.to }
        : roll >= 0.1 && roll < 0.2
          ? { name: 'restart' }
          : { name: 'deploy' }
      const isBroken = operation.name === 'deploy' && random() < 0.2
      const source = isBroken ? pick([world.broken, world.dies]) : good
      // A broken release's start and verify are where the host must end what it started alone:
      // half of them lose their runner there (killed, no post step).
      if (isBroken && random() < 0.5) {
        fault = 'killed'
        phase = pick(['start', 'verify'])
      }
      const sha = back?.sha ?? (operation.name === 'restart' ? (world.serving as string) : hex(40))
      const outcomes =
        fault === 'concurrent'
          ? await Promise.all([
              deployWith(world, 'none', phase, sha, source, operation),
              deployWith(world, 'none', phase, hex(40), good)
            ])
          : [await deployWith(world, fault, phase, sha, source, operation)]
      if (fault === 'disk-full') rmSync(join(target, 'filler'), { force: true })
      await settled(world)
      const key = `${operation.name === 'deploy' ? '' : `${operation.name}, `}${fault}${fault === 'none' || fault === 'concurrent' ? '' : ` at ${phase}`}`
      byPhase.set(key, (byPhase.get(key) ?? 0) + 1)
      const broke = await check(world, outcomes, { kind: fault, phase, broken: isBroken })
      for (const { invariant, seen } of broke)
        violations.set(invariant, [
          ...(violations.get(invariant) ?? []),
          `#${index} ${key}${isBroken ? ' (broken)' : ''}: ${seen}`
        ])
      console.log(
        `#${index} ${key}${isBroken ? ' (broken version)' : ''}: ${outcomes.map(outcome => outcome.said).join(', ')}; serves ${world.serving?.slice(0, 12)}${broke.length ? `; VIOLATED ${broke.map(entry => entry.invariant).join('; ')}` : ''}`
      )
      // Why a good version failed, for a fault that should only have been survived.
      for (const outcome of outcomes.filter(outcome => outcome.said === 'failure' && !isBroken))
        console.log(`    ${firstError(outcome)}`)
    }
  } finally {
    killServiceOnPort(port)
    await sshd.stop()
    unmount()
    rmSync(work, { recursive: true, force: true })
  }
  const minutes = ((Date.now() - started) / 60_000).toFixed(1)
  console.log(`\n${DEPLOYS} deploys, seed ${SEED}, ${minutes} min\n`)
  console.log('| fault | deploys |\n|---|---|')
  for (const [key, count] of [...byPhase].sort()) console.log(`| ${key} | ${count} |`)
  console.log('\n| invariant | violations |\n|---|---|')
  for (const invariant of INVARIANTS)
    console.log(`| ${invariant} | ${violations.get(invariant)?.length ?? 0} |`)
  for (const [invariant, seen] of violations) {
    console.log(`\n${invariant}:`)
    for (const line of seen) console.log(`  ${line}`)
  }
  if (violations.size > 0) process.exitCode = 1
}

await main()

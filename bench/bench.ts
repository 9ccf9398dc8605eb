/**
 * `npm run bench`: upload speed against the wire's limit, on loopback and a simulated WAN.
 * Every case runs on the same generated tree and the same throwaway sshd; times are medians of
 * several runs and are reported as ratios to baselines measured in the same process.
 */
import { execFileSync, spawn } from 'node:child_process'
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync
} from 'node:fs'
import { tmpdir, cpus, totalmem } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { NodeSSH } from 'node-ssh'
import { actionNode, PROJECT_ROOT } from '../__tests__/support/action.js'
import { startSshd, type TestSshd } from '../__tests__/support/sshd.js'
import { newDeployContext } from '../src/model/context.js'
import { remoteLayout } from '../src/remote/layout.js'
import { connect } from '../src/tasks/connect.js'
import { scanUploadSource, upload } from '../src/tasks/upload.js'
import type { HostReport } from '../src/report/report.js'
import { getSettings } from '../src/inputs/settings.js'
import { quote } from '../src/remote/shell.js'
import { DowntimeBench, type DowntimeSample } from './downtime.js'
import { brokenRelease, KINDS, MODES, type BrokenSample } from './broken.js'
import { loginCost, type LoginSample } from './login.js'
import { refusedConnections, SERVERS, type RefusedSample } from './refused.js'
import { PROFILES, startLink, type Link } from './link.js'
import { editTenFiles, generateTree, type GeneratedTree } from './tree.js'

/**
 * BENCH_SMOKE=1 (what CI runs): every case once, on a small tree, without SFTP, and no results
 * written; it only proves the bench still runs end to end, its figures mean nothing.
 */
const SMOKE = process.env.BENCH_SMOKE === '1'
const REPS = Number(process.env.BENCH_REPS ?? (SMOKE ? 1 : 3))
/** For profiling one thing: BENCH_PROFILES=loopback, BENCH_SFTP=0 (SFTP takes most of the time). */
const PROFILE_NAMES = (
  process.env.BENCH_PROFILES ?? PROFILES.map(profile => profile.name).join(',')
)
  .split(',')
  .map(name => name.trim())
const WITH_SFTP = process.env.BENCH_SFTP ? process.env.BENCH_SFTP !== '0' : !SMOKE
/** BENCH_UPLOAD=0 runs only the downtime case; BENCH_DOWNTIME=0 skips it. */
const WITH_UPLOAD = process.env.BENCH_UPLOAD !== '0'
const WITH_DOWNTIME = process.env.BENCH_DOWNTIME !== '0'
const WITH_REFUSED = process.env.BENCH_REFUSED !== '0'
const WITH_LOGIN = process.env.BENCH_LOGIN !== '0'
const WITH_BROKEN = process.env.BENCH_BROKEN !== '0'
/** Timed deploys per login cost in the login case. */
const LOGIN_DEPLOYS = Number(process.env.BENCH_LOGIN_DEPLOYS ?? (SMOKE ? 1 : 3))
/** Deploys per server and setting in the refused-connections case. */
const REFUSED_DEPLOYS = Number(process.env.BENCH_REFUSED_DEPLOYS ?? (SMOKE ? 1 : 10))
const DOWNTIME_REPS = Number(process.env.BENCH_DOWNTIME_REPS ?? (SMOKE ? 1 : 5))
/**
 * Where the host side writes. tmpfs by default: on a VM disk, creating thousands of files right
 * after deleting thousands stalls for seconds (discards, journal), which would swamp the transfer
 * differences under test. BENCH_HOST_DIR=/some/disk/dir measures on a disk instead.
 */
const HOST_ROOT = process.env.BENCH_HOST_DIR ?? (existsSync('/dev/shm') ? '/dev/shm' : tmpdir())
const SHA = 'b'.repeat(40)

interface Measurement {
  seconds: number[]
  bytesSent: number
  note?: string
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]

/** Runs `body` `reps` times after `setup`, timing only `body` and counting the bytes it sent. */
async function measure(
  link: Link,
  reps: number,
  setup: () => Promise<void> | void,
  body: () => Promise<void>
): Promise<Measurement> {
  const seconds: number[] = []
  let bytesSent = 0
  for (let rep = 0; rep < reps; rep++) {
    await setup()
    // Start each run from a settled disk: writeback and discards left by the previous run (or by
    // the setup's deletes) would otherwise land in this run's time, whichever case it is.
    execFileSync('sync')
    link.reset()
    const started = performance.now()
    await body()
    seconds.push((performance.now() - started) / 1000)
    bytesSent = link.sent()
  }
  return { seconds, bytesSent }
}

/** Runs the action's own code silently (its log goes to stdout, which the table uses). */
async function quietly<T>(body: () => Promise<T>): Promise<T> {
  const write = process.stdout.write.bind(process.stdout)
  process.stdout.write = (() => true) as typeof process.stdout.write
  try {
    return await body()
  } finally {
    process.stdout.write = write
  }
}

function ensureRsync(): void {
  try {
    execFileSync('sh', ['-c', 'command -v rsync'], { stdio: 'ignore' })
  } catch {
    if (process.getuid?.() !== 0)
      throw new Error('the bench needs rsync: sudo apt-get install -y rsync')
    execFileSync(
      'sh',
      ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rsync'],
      { stdio: 'inherit' }
    )
  }
}

/** The sshd's known_hosts line, for the port of the link in front of it. */
function knownHostsThrough(sshd: TestSshd, link: Link): string {
  return sshd.knownHosts.ed25519.replace(`]:${sshd.port} `, `]:${link.port} `)
}

class Bench {
  constructor(
    private readonly sshd: TestSshd,
    private readonly link: Link,
    private readonly work: string,
    private readonly hostDir: string
  ) {}

  private knownHostsFile(): string {
    const file = join(this.work, `known_hosts_${this.link.port}`)
    writeFileSync(file, knownHostsThrough(this.sshd, this.link) + '\n')
    return file
  }

  sshCommand(): string[] {
    return [
      'ssh',
      '-p',
      String(this.link.port),
      '-i',
      this.sshd.keys.ed25519.path,
      '-o',
      `UserKnownHostsFile=${this.knownHostsFile()}`,
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      'BatchMode=yes'
    ]
  }

  private target(name: string): string {
    return join(this.hostDir, this.link.profile.name, name)
  }

  /** Times `body` into a target emptied before each run (the emptying is not timed). */
  private intoEmpty(
    name: string,
    reps: number,
    body: (target: string) => Promise<void>
  ): Promise<Measurement> {
    const target = this.target(name)
    return measure(
      this.link,
      reps,
      () => rmSync(target, { recursive: true, force: true }),
      () => body(target)
    )
  }

  /** The action's connect + upload phases, in process, into a new release under `target`. */
  async actionUpload(source: string, target: string): Promise<HostReport> {
    const settings = await quietly(async () =>
      getSettings(
        name =>
          ({
            host: `127.0.0.1:${this.link.port}`,
            username: this.sshd.user,
            'private-key': this.sshd.keys.ed25519.text,
            'known-hosts': knownHostsThrough(this.sshd, this.link),
            source,
            target,
            'start-command': 'true',
            'version-url': 'http://127.0.0.1/version',
            sha: SHA
          })[name] ?? ''
      )
    )
    const report: HostReport = {
      host: 'bench',
      result: 'not-started',
      rolledBack: false,
      phases: []
    }
    // In a deploy the lock phase, which the bench leaves out, creates the target.
    mkdirSync(target, { recursive: true })
    // As the action does: hashing the source overlaps the SSH handshake.
    void scanUploadSource(settings)
    const session = await quietly(() => connect(settings.hosts[0], settings))
    try {
      const layout = remoteLayout(session.target)
      const ctx = newDeployContext({
        settings,
        sha: SHA,
        label: 'bench',
        session,
        layout,
        report,
        run: 'bench',
        lockToken: 'bench'
      })
      await quietly(() => upload(ctx))
      // The base for the next incremental run is the one `current` names.
      execFileSync('ln', ['-sfn', `releases/${ctx.release}`, join(target, 'current')])
    } finally {
      session.close()
    }
    return report
  }

  private shell(command: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = spawn('sh', ['-c', command], { stdio: ['ignore', 'ignore', 'pipe'] })
      let stderr = ''
      child.stderr.on('data', chunk => (stderr += chunk))
      child.on('close', code =>
        code === 0 ? resolve() : reject(new Error(`${command}: ${stderr}`))
      )
    })
  }

  private quoted(args: string[]): string {
    return args.map(quote).join(' ')
  }

  tar(source: string, gzip: boolean): Promise<Measurement> {
    const z = gzip ? 'z' : ''
    return this.intoEmpty(`tar${z}`, REPS, target =>
      this.shell(
        `tar -C ${this.quoted([source])} -c${z}f - . | ${this.quoted(this.sshCommand())} ${this.sshd.user}@127.0.0.1 ${this.quoted([`mkdir -p ${target} && tar -C ${target} -x${z}f -`])}`
      )
    )
  }

  private rsync(source: string, target: string): Promise<void> {
    return this.shell(
      `rsync -a --delete -e ${this.quoted([this.sshCommand().join(' ')])} ${this.quoted([`${source}/`, `${this.sshd.user}@127.0.0.1:${target}/`])}`
    )
  }

  rsyncFull(source: string): Promise<Measurement> {
    return this.intoEmpty('rsync-full', REPS, target => this.rsync(source, target))
  }

  rsyncIncremental(before: string, after: string): Promise<Measurement> {
    const target = this.target('rsync-incremental')
    rmSync(target, { recursive: true, force: true })
    return measure(
      this.link,
      REPS,
      () => this.rsync(before, target),
      () => this.rsync(after, target)
    )
  }

  actionFull(source: string): Promise<Measurement> {
    return this.intoEmpty('action-full', REPS, async target => {
      await this.actionUpload(source, target)
    })
  }

  async actionIncremental(before: string, after: string): Promise<Measurement> {
    const target = this.target('action-incremental')
    rmSync(target, { recursive: true, force: true })
    await this.actionUpload(before, target)
    const keep = new Set(readdirSync(join(target, 'releases')))
    let sentFiles = 0
    const result = await measure(
      this.link,
      REPS,
      () => {
        // Each round starts from the same host state: only the base release.
        for (const name of readdirSync(join(target, 'releases')))
          if (!keep.has(name)) rmSync(join(target, 'releases', name), { recursive: true })
        execFileSync('ln', ['-sfn', `releases/${[...keep][0]}`, join(target, 'current')])
      },
      async () => {
        sentFiles = (await this.actionUpload(after, target)).uploadedFiles ?? 0
      }
    )
    return { ...result, note: `${sentFiles} files sent` }
  }

  sftp(source: string, concurrency: number, subset?: string): Promise<Measurement> {
    return this.intoEmpty(`sftp-${concurrency}`, 1, async target => {
      const ssh = new NodeSSH()
      await ssh.connect({
        host: '127.0.0.1',
        port: this.link.port,
        username: this.sshd.user,
        privateKey: this.sshd.keys.ed25519.text
      })
      try {
        const ok = await ssh.putDirectory(subset ?? source, target, {
          recursive: true,
          concurrency
        })
        if (!ok) throw new Error('putDirectory reported a failed file')
      } finally {
        ssh.dispose()
      }
    })
  }
}

/** `node dist/index.js` (dry run) until its first byte reaches the SSH port. */
async function coldStart(sshd: TestSshd, link: Link, source: string): Promise<number[]> {
  const times: number[] = []
  for (let rep = 0; rep < 5; rep++) {
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      INPUT_HOST: `127.0.0.1:${link.port}`,
      INPUT_USERNAME: sshd.user,
      'INPUT_PRIVATE-KEY': sshd.keys.ed25519.text,
      'INPUT_KNOWN-HOSTS': knownHostsThrough(sshd, link),
      INPUT_SOURCE: source,
      INPUT_TARGET: '/tmp/vsd-bench-cold',
      'INPUT_START-COMMAND': 'true',
      'INPUT_VERSION-URL': 'http://127.0.0.1/version',
      INPUT_SHA: SHA,
      'INPUT_DRY-RUN': 'true'
    }
    const firstByte = link.nextFirstByte()
    const started = performance.now()
    const child = spawn(actionNode(), [join(PROJECT_ROOT, 'dist', 'index.js')], {
      env,
      stdio: 'ignore'
    })
    times.push((await firstByte) - started)
    await new Promise(resolve => child.on('close', resolve))
  }
  return times
}

const entry = (m: Measurement) => ({
  median_s: Number(median(m.seconds).toFixed(3)),
  min_s: Number(Math.min(...m.seconds).toFixed(3)),
  max_s: Number(Math.max(...m.seconds).toFixed(3)),
  bytes_sent: m.bytesSent
})

type Row = { profile: string; case: string; m: Measurement }

/** Medians of the downtime samples, in whole milliseconds. */
const downtimeEntry = (samples: DowntimeSample[]) => ({
  gap_ms: Math.round(median(samples.map(sample => sample.gapMs))),
  own_ms: Math.round(median(samples.map(sample => sample.ownMs))),
  added_ms: Math.round(median(samples.map(sample => sample.addedMs))),
  added_range_ms: [
    Math.round(Math.min(...samples.map(sample => sample.addedMs))),
    Math.round(Math.max(...samples.map(sample => sample.addedMs)))
  ]
})

async function main(): Promise<void> {
  ensureRsync()
  const work = mkdtempSync(join(tmpdir(), 'vsd-bench-'))
  const hostDir = mkdtempSync(join(HOST_ROOT, 'vsd-bench-host-'))
  // As root, as the bench has always run: its host side is made by this process, and its figures
  // stay comparable with earlier runs'.
  const sshd = await startSshd({ user: 'root', extraConfig: ['MaxSessions 200'] })
  const results: Record<string, Record<string, unknown>> = {}
  const rows: Row[] = []
  let refused: RefusedSample[] = []
  let logins: LoginSample[] = []
  const broken: BrokenSample[] = []
  try {
    console.log('Generating the tree...')
    const before: GeneratedTree = generateTree(join(work, 'before'), 42, SMOKE ? 1000 : 2992)
    const after = join(work, 'after')
    cpSync(before.root, after, { recursive: true })
    editTenFiles({ ...before, root: after }, 1)
    const subset = join(work, 'subset')
    for (const file of before.files.slice(0, 300))
      cpSync(join(before.root, file), join(subset, file), { recursive: true })
    console.log(
      `${before.files.length} files, ${(before.bytes / 1e6).toFixed(1)} MB; ${REPS} runs per case (SFTP: 1 run); host side writes under ${HOST_ROOT}`
    )

    for (const profile of PROFILES.filter(profile => PROFILE_NAMES.includes(profile.name))) {
      const link = await startLink(sshd.port, profile)
      const bench = new Bench(sshd, link, work, hostDir)
      const add = (name: string, m: Measurement) => {
        rows.push({ profile: profile.name, case: name, m })
        console.log(
          `  ${profile.name} ${name}: median ${median(m.seconds).toFixed(2)} s, ${m.bytesSent} bytes sent${m.note ? ` (${m.note})` : ''}`
        )
        return m
      }
      console.log(
        `Profile ${profile.name}${profile.delayMs ? ` (${profile.delayMs} ms each way, ${(profile.bytesPerSecond * 8) / 1e6} Mbit/s)` : ''}`
      )
      results[profile.name] = {}
      if (WITH_UPLOAD) {
        const full = add('action full upload', await bench.actionFull(before.root))
        const incremental = add(
          'action incremental',
          await bench.actionIncremental(before.root, after)
        )
        const tar = add('tar | ssh', await bench.tar(before.root, false))
        const tarz = add('tar -z | ssh', await bench.tar(before.root, true))
        const rsyncFull = add('rsync -a --delete (full)', await bench.rsyncFull(before.root))
        const rsyncIncr = add(
          'rsync -a --delete (incremental)',
          await bench.rsyncIncremental(before.root, after)
        )
        let sftp: Record<string, unknown> = {}
        if (WITH_SFTP) {
          const sftp10 = add('sftp putDirectory, concurrency 10', await bench.sftp(before.root, 10))
          const sftp1raw = await bench.sftp(before.root, 1, subset)
          const sftp1 = add('sftp putDirectory, concurrency 1 (300 files x10)', {
            seconds: sftp1raw.seconds.map(s => s * (before.files.length / 300)),
            bytesSent: Math.round(sftp1raw.bytesSent * (before.files.length / 300)),
            note: 'measured on 300 files, scaled'
          })
          sftp = {
            sftp_concurrency_10: entry(sftp10),
            sftp_concurrency_1_scaled: entry(sftp1),
            sftp_vs_full: Number((median(sftp10.seconds) / median(full.seconds)).toFixed(3))
          }
        }
        const cold = await coldStart(sshd, link, before.root)
        const bestTar = Math.min(median(tar.seconds), median(tarz.seconds))
        results[profile.name] = {
          full: entry(full),
          incremental: entry(incremental),
          tar: entry(tar),
          tar_gzip: entry(tarz),
          rsync_full: entry(rsyncFull),
          rsync_incremental: entry(rsyncIncr),
          ...sftp,
          full_vs_tar: Number((median(full.seconds) / bestTar).toFixed(3)),
          incremental_vs_rsync_time: Number(
            (median(incremental.seconds) / median(rsyncIncr.seconds)).toFixed(3)
          ),
          incremental_vs_rsync_bytes: Number(
            (incremental.bytesSent / rsyncIncr.bytesSent).toFixed(3)
          ),
          cold_start_ms: Number(median(cold).toFixed(1))
        }
      }
      if (WITH_DOWNTIME) {
        const downtime = new DowntimeBench(
          sshd,
          link,
          knownHostsThrough(sshd, link),
          bench.sshCommand(),
          hostDir
        )
        const action = await downtime.action(DOWNTIME_REPS)
        const naive = await downtime.naive(DOWNTIME_REPS)
        results[profile.name].downtime = {
          reps: DOWNTIME_REPS,
          action: downtimeEntry(action),
          naive: downtimeEntry(naive),
          action_added_downtime_ms: downtimeEntry(action).added_ms,
          naive_added_downtime_ms: downtimeEntry(naive).added_ms
        }
        console.log(
          `  ${profile.name} downtime: action adds ${downtimeEntry(action).added_ms} ms (gap ${downtimeEntry(action).gap_ms} ms), a plain kill/sleep 1/nohup adds ${downtimeEntry(naive).added_ms} ms (gap ${downtimeEntry(naive).gap_ms} ms)`
        )
      }
      await link.close()
    }
    if (WITH_REFUSED) {
      // On the host itself (no link): the client and the service are on the same machine.
      const samples: RefusedSample[] = []
      for (const server of SERVERS) {
        for (const holdPorts of [false, true]) {
          const sample = await refusedConnections(sshd, hostDir, server, holdPorts, REFUSED_DEPLOYS)
          samples.push(sample)
          console.log(
            `  ${server.name}, hold-ports ${holdPorts}: ${sample.sent} requests through ${sample.deploys} deploys, ${sample.refused} refused, ${sample.reset} reset, ${sample.failed} failed, longest wait ${sample.longestWaitMs} ms`
          )
        }
      }
      refused = samples
      results.refused_connections = { deploys: REFUSED_DEPLOYS, per_second: 100, samples }
    }
    if (WITH_BROKEN) {
      // On the host itself, as the refused-connections case; a smoke run tries one kind per mode.
      for (const mode of MODES)
        for (const kind of SMOKE ? KINDS.slice(0, 1) : KINDS) {
          const sample = await brokenRelease(sshd, hostDir, kind, mode)
          broken.push(sample)
          console.log(
            `  broken release, ${kind.name}, hold-ports ${mode.holdPorts}, overlap ${mode.overlap}: ${sample.failed} of ${sample.sent} requests failed, longest gap ${sample.longestGapMs} ms, deploy ${sample.deploySeconds} s`
          )
        }
      results.broken_releases = { per_second: 100, samples: broken }
    }
    if (WITH_LOGIN) {
      logins = await loginCost(LOGIN_DEPLOYS)
      const silent = median(logins[0].seconds)
      results.login_cost = {
        deploys: LOGIN_DEPLOYS,
        samples: logins.map(sample => ({
          login_s: sample.loginSeconds,
          deploy_s: Number(median(sample.seconds).toFixed(2)),
          vs_silent: Number((median(sample.seconds) / silent).toFixed(3)),
          logins_paid:
            sample.loginSeconds > 0
              ? Number(((median(sample.seconds) - silent) / sample.loginSeconds).toFixed(2))
              : undefined
        }))
      }
      for (const sample of logins)
        console.log(
          `  login ${sample.loginSeconds} s: deploy median ${median(sample.seconds).toFixed(2)} s`
        )
    }
  } finally {
    await sshd.stop()
    rmSync(work, { recursive: true, force: true })
    rmSync(hostDir, { recursive: true, force: true })
  }

  console.log('\n| profile | case | median s (min-max) | bytes sent | ratio |')
  console.log('|---|---|---|---|---|')
  for (const { profile, case: name, m } of rows) {
    const r = results[profile] as Record<string, number>
    const ratio =
      name === 'action full upload'
        ? `${r.full_vs_tar}x best tar`
        : name === 'action incremental'
          ? `${r.incremental_vs_rsync_time}x rsync time, ${r.incremental_vs_rsync_bytes}x rsync bytes`
          : name.startsWith('sftp putDirectory, concurrency 10')
            ? `${r.sftp_vs_full}x action full`
            : ''
    console.log(
      `| ${profile} | ${name.replace(/\|/g, '\\|')} | ${median(m.seconds).toFixed(2)} (${Math.min(...m.seconds).toFixed(2)}-${Math.max(...m.seconds).toFixed(2)}) | ${m.bytesSent} | ${ratio} |`
    )
  }
  for (const profile of Object.keys(results)) {
    const r = results[profile] as Record<string, number | undefined> & {
      downtime?: { action_added_downtime_ms: number; naive_added_downtime_ms: number }
    }
    if (r.cold_start_ms !== undefined)
      console.log(
        `| ${profile} | cold start (dist/index.js to first SSH byte) | ${r.cold_start_ms} ms | | |`
      )
    if (r.downtime)
      console.log(
        `| ${profile} | downtime added by the restart (action vs kill/sleep 1/nohup) | ${r.downtime.action_added_downtime_ms} ms vs ${r.downtime.naive_added_downtime_ms} ms | | |`
      )
  }
  if (refused.length > 0) {
    console.log('\n| server | hold-ports | requests | refused | reset | failed | longest wait |')
    console.log('|---|---|---|---|---|---|---|')
    for (const r of refused)
      console.log(
        `| ${r.server} | ${r.holdPorts} | ${r.sent} | ${r.refused} | ${r.reset} | ${r.failed} | ${r.longestWaitMs} ms |`
      )
  }
  if (broken.length > 0) {
    console.log(
      '\n| broken release | hold-ports | overlap | requests | failed | longest gap | deploy |'
    )
    console.log('|---|---|---|---|---|---|---|')
    for (const b of broken)
      console.log(
        `| ${b.kind} | ${b.holdPorts} | ${b.overlap} | ${b.sent} | ${b.failed} | ${b.longestGapMs} ms | ${b.deploySeconds} s |`
      )
  }
  if (logins.length > 0) {
    const silent = median(logins[0].seconds)
    console.log(
      '\n| .bashrc takes | deploy (median) | vs silent | logins paid ((deploy - silent) / login) |'
    )
    console.log('|---|---|---|---|')
    for (const sample of logins) {
      const deploy = median(sample.seconds)
      console.log(
        `| ${sample.loginSeconds} s | ${deploy.toFixed(2)} s | ${(deploy / silent).toFixed(2)}x | ${sample.loginSeconds > 0 ? ((deploy - silent) / sample.loginSeconds).toFixed(2) : '-'} |`
      )
    }
  }
  const machine = {
    cpus: cpus().length,
    cpu: cpus()[0]?.model,
    memory_gb: Math.round(totalmem() / 2 ** 30),
    node: process.version
  }
  if (SMOKE) {
    console.log('\nSmoke run (BENCH_SMOKE=1): every case ran; no results written')
    return
  }
  mkdirSync(join(PROJECT_ROOT, 'bench', 'results'), { recursive: true })
  writeFileSync(
    join(PROJECT_ROOT, 'bench', 'results', 'latest.json'),
    JSON.stringify(
      { date: new Date().toISOString(), machine, reps: REPS, host_dir: HOST_ROOT, results },
      null,
      2
    ) + '\n'
  )
  console.log('\nWrote bench/results/latest.json')
}

main().catch(error => {
  console.error(`bench failed: ${error instanceof Error ? error.stack : String(error)}`)
  process.exit(1)
})

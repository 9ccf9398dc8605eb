/**
 * `npm run demo`: a throwaway sshd on loopback, the example service deployed through dist/index.js
 * as the runner would run it: v1 (building the service's venv), v2 and a redeploy of v1 (as
 * workflow_dispatch would; both reuse it), and a broken v3 that fails verification and is rolled back. Everything is removed at the end.
 */
import { execFileSync } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { PROJECT_ROOT, runAction, type ActionRun } from '../__tests__/support/action.js'
import { freePort, startSshd, type TestSshd } from '../__tests__/support/sshd.js'

const bold = (text: string) => (process.stdout.isTTY ? `\x1b[1m${text}\x1b[0m` : text)
const step = (text: string) => console.log(`\n${bold(`== ${text}`)}`)

/** The action's log as the Actions UI would show it: groups as headings, commands hidden. */
function printLog(run: ActionRun): void {
  for (const line of run.stdout.split('\n')) {
    if (/^::(add-mask|debug|save-state|set-output|endgroup)/.test(line) || !line) continue
    const decode = (text: string) =>
      text.replace(/%0A/g, '\n    ').replace(/%3A/g, ':').replace(/%2C/g, ',').replace(/%25/g, '%')
    const group = /^::group::(.*)$/.exec(line)
    const annotation = /^::(error|warning)(?: title=([^:]*))?::(.*)$/.exec(line)
    if (group) console.log(`  > ${group[1]}`)
    else if (annotation) {
      const title = annotation[2] ? `${decode(annotation[2])}: ` : ''
      console.log(`  ${annotation[1].toUpperCase()}: ${title}${decode(annotation[3])}`)
    } else console.log(`    ${decode(line)}`)
  }
}

function git(repo: string, ...args: string[]): string {
  return execFileSync(
    'git',
    ['-C', repo, '-c', 'user.name=demo', '-c', 'user.email=demo@example.com', ...args],
    {
      encoding: 'utf8'
    }
  ).trim()
}

async function version(port: number): Promise<string> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/version`, {
      signal: AbortSignal.timeout(2000)
    })
    return await response.text()
  } catch (error) {
    return `(no answer: ${(error as Error).message})`
  }
}

function stopService(target: string): void {
  const state = join(target, '.deploy', 'state.json')
  if (!existsSync(state)) return
  const { processes } = JSON.parse(readFileSync(state, 'utf8')) as {
    processes: { pid: number }[]
  }
  for (const { pid } of processes) {
    try {
      process.kill(pid, 'SIGTERM')
    } catch {
      // already gone
    }
  }
}

// `npm run demo` has installed (or named) the tools it needs first: scripts/setup.sh demo.
async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'vsd-demo-'))
  const repo = join(work, 'minichat')
  const target = join(work, 'srv', 'minichat')
  let sshd: TestSshd | undefined
  try {
    step('Starting a throwaway OpenSSH server on loopback (its own host key and client key)')
    // Deploying as whoever runs the demo: it needs no root, and adds no user.
    sshd = await startSshd({ user: userInfo().username })
    console.log(`  sshd on 127.0.0.1:${sshd.port}, host key ${sshd.fingerprints.ed25519}`)

    cpSync(join(PROJECT_ROOT, 'examples', 'minichat'), repo, { recursive: true })
    git(repo, 'init', '-q', '-b', 'main')
    git(repo, 'add', '.')
    git(repo, 'commit', '-qm', 'v1')
    const v1 = git(repo, 'rev-parse', 'HEAD')
    const [apiPort, webuiPort] = [await freePort(), await freePort()]
    const inputs: Record<string, string> = {
      host: `127.0.0.1:${sshd.port}`,
      username: sshd.user,
      'private-key': sshd.keys.ed25519.text,
      'known-hosts': sshd.knownHosts.ed25519,
      source: repo,
      target,
      // A venv in <target>/.deploy/venvs, built on the first deploy and reused while
      // requirements.txt is unchanged.
      'python-requirements': 'requirements.txt',
      'start-command': 'python3 -m minichat.cli start -a',
      'process-match': 'minichat.cli start',
      ports: `${apiPort},${webuiPort}`,
      env: `MINICHAT_API_PORT=${apiPort}\nMINICHAT_WEBUI_PORT=${webuiPort}\nPYTHONDONTWRITEBYTECODE=1`,
      'version-url': `http://127.0.0.1:${apiPort}/version`,
      'version-timeout': '15',
      'stable-for': '2'
    }
    let runs = 0
    const deploy = async (title: string): Promise<ActionRun> => {
      step(title)
      const run = await runAction(inputs, { workDir: join(work, `run-${++runs}`) })
      printLog(run)
      console.log(
        `  exit code ${run.code}; outputs: release=${run.outputs.release} sha=${run.outputs.sha?.slice(0, 12)} ` +
          `previous-release=${run.outputs['previous-release'] || '-'} rolled-back=${run.outputs['rolled-back']} ` +
          `uploaded-files=${run.outputs['uploaded-files']} venv-reused=${run.outputs['venv-reused']}`
      )
      console.log(`  the service answers: ${await version(apiPort)}`)
      return run
    }

    await deploy(`Deploy v1 (${v1.slice(0, 12)}), as a push to main would`)

    writeFileSync(
      join(repo, 'minichat', '__init__.py'),
      readFileSync(join(repo, 'minichat', '__init__.py'), 'utf8').replace('1.0.0', '1.1.0')
    )
    git(repo, 'commit', '-qam', 'v2')
    const v2 = git(repo, 'rev-parse', 'HEAD')
    await deploy(`Deploy v2 (${v2.slice(0, 12)}): one file changed, so one file is sent`)

    git(repo, 'checkout', '-q', v1)
    await deploy(
      `Redeploy v1 (${v1.slice(0, 12)}), as workflow_dispatch with ref=${v1.slice(0, 7)} would`
    )

    git(repo, 'checkout', '-q', 'main')
    const api = join(repo, 'minichat', 'api.py')
    writeFileSync(
      api,
      readFileSync(api, 'utf8').replace(
        'GREETING = "Hello from minichat"',
        'GREETING = GREETNG_TYPO'
      )
    )
    git(repo, 'commit', '-qam', 'v3: a typo that crashes the API at start-up')
    const failed = await deploy(
      `Deploy a broken v3 (${git(repo, 'rev-parse', 'HEAD').slice(0, 12)}): verify fails, the action rolls back`
    )

    step('The job summary of the last run, as text (GitHub renders it from GITHUB_STEP_SUMMARY)')
    console.log(
      failed.summary
        .replace(/<\/(tr|h\d|p|li|summary)>/g, '\n')
        .replace(/<\/t[hd]>/g, ' | ')
        .replace(/<[^>]+>/g, '')
        .replace(/&lt;/g, '<')
        .replace(/&gt;/g, '>')
        .replace(/&#39;/g, "'")
        .replace(/&quot;/g, '"')
        .replace(/&amp;/g, '&')
        .split('\n')
        .filter(line => line.trim() && !line.startsWith('```'))
        .slice(0, 14)
        .map(line => `  ${line.trimEnd()}`)
        .join('\n')
    )
    step(`Done: v1, v2, redeploy of v1 verified; v3 refused and rolled back to ${v1.slice(0, 12)}`)
  } finally {
    stopService(target)
    await sshd?.stop()
    rmSync(work, { recursive: true, force: true })
    console.log('  cleaned up: service stopped, sshd stopped, temp files removed')
  }
}

main().catch(error => {
  console.error(`demo failed: ${error instanceof Error ? error.message : String(error)}`)
  process.exit(1)
})

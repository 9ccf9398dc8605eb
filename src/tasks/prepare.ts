import type { DeployContext } from '../model/context.js'
import { insideTarget } from '../remote/layout.js'
import { lastLines } from '../remote/remote.js'
import { sh } from '../remote/shell.js'
import { holdCheckScript } from '../commands/hold.js'
import { clearBytecodeScript, removedCount } from '../commands/bytecode.js'
import { exportEnvScript } from '../commands/environment.js'
import { planInPlaceSync } from './switch.js'
import { prepareVenv } from './venv.js'
import { info } from '../report/host-text.js'
import { writeEnvFile } from './env-file.js'
import { sudoHint } from './sudo.js'
import { COMMAND_SECONDS, RELEASE_COMMAND_SECONDS } from '../model/budgets.js'
import { strategyOf } from '../model/strategy.js'
import {
  stampScript,
  linkSharedScript,
  importCheckScript,
  releaseCommandScript
} from '../commands/prepare.js'

/** Fails unless the module the service imports comes from the release itself. */
export async function checkImport(ctx: DeployContext): Promise<void> {
  const { settings, session } = ctx
  const module = settings.pythonImportCheck as string
  const result = await session.remote.run(
    importCheckScript(
      ctx.releaseDir,
      exportEnvScript(ctx, ctx.releaseDir),
      settings.python,
      module
    ),
    { phase: 'prepare', timeoutSeconds: COMMAND_SECONDS.tree, allowFailure: true }
  )
  const [release, resolved] = result.stdout.trim().split('\n')
  if (result.code !== 0 || !resolved) {
    throw new Error(
      `python-import-check: '${settings.python}' could not import ${module} in ${ctx.releaseDir} (exit ${result.code}):\n` +
        lastLines(result.stderr, 20)
    )
  }
  if (settings.pythonRequirements.length > 0 && resolved.includes('/.deploy/venvs/')) {
    throw new Error(
      `python-import-check: 'import ${module}' in the new release resolves to ${resolved}, inside the managed venv: the project itself is installed there ` +
        "(a '-e .' or '.' line in the requirements, or 'pip install .' in python-install-command). The venv holds the dependencies and is shared by every release with the same ones, " +
        'so a rollback would keep running this code. Install only the dependencies; the project is imported from the release (its directory is the working directory, or put it on PYTHONPATH via env). ' +
        'Nothing was stopped.'
    )
  }
  if (!resolved.startsWith(`${release}/`)) {
    throw new Error(
      `python-import-check: 'import ${module}' in the new release resolves to ${resolved}, outside the release (${release}). ` +
        'An installed copy is shadowing the deployed code, so a restart would keep running the old one. ' +
        `Uninstall that copy ('pip uninstall ${module.split('.')[0]}'), or put the package's directory first on PYTHONPATH via the env input ` +
        '(a relative path, e.g. PYTHONPATH=src, names the directory in whichever release runs). ' +
        'Nothing was stopped.'
    )
  }
  info(`python-import-check: ${module} imports from ${resolved}`)
}

/** hold-ports: the host's Python can pass sockets, asked before anything stops. */
async function checkHoldPorts(ctx: DeployContext): Promise<void> {
  const { python } = ctx.settings
  const checked = await ctx.session.remote.run(holdCheckScript(python), {
    phase: 'prepare',
    timeoutSeconds: COMMAND_SECONDS.quick,
    allowFailure: true
  })
  if (checked.code === 0) return
  throw new Error(
    checked.code === 127
      ? `hold-ports needs Python on the host, and '${python}' (the python input) is not there: install python3, or set python to an interpreter's path. Nothing was stopped`
      : `hold-ports needs a Python that can pass sockets between processes (3.3 or later, with AF_UNIX and sendmsg), and '${python}' on the host cannot (exit ${checked.code}${checked.stderr.trim() ? `: ${lastLines(checked.stderr, 3)}` : ''}): set python to a newer interpreter. Nothing was stopped`
  )
}

/**
 * Runs `input`'s command in the new release, its output in the log, before anything stops: a
 * failure says so, with `state` on what else it may have left (after "untouched").
 */
export async function runReleaseCommand(
  ctx: DeployContext,
  input: 'prepare-command' | 'migrate-command',
  command: string,
  state = ''
): Promise<void> {
  const ran = await ctx.session.remote.run(releaseCommandScript(ctx, command), {
    phase: input === 'prepare-command' ? 'prepare' : 'migrate',
    timeoutSeconds: RELEASE_COMMAND_SECONDS,
    echo: true,
    allowFailure: true
  })
  if (ran.code !== 0) {
    const stderr = lastLines(ran.stderr, 10)
    throw new Error(
      `the ${input} exited with code ${ran.code} in ${ctx.releaseDir}. Nothing was stopped: the old service still serves, untouched${state}.` +
        sudoHint(`${ran.stdout}\n${ran.stderr}`, command, ctx.session.address.username) +
        (stderr ? ` Its last stderr:\n${stderr}` : ' Its output is above in the log')
    )
  }
  info(`${input} succeeded: ${command}`)
}

/** prepare: stamp, shared paths, bytecode, the venv, prepare-command and the import check, while the old service still serves. */
export async function prepare(ctx: DeployContext): Promise<void> {
  const { settings, session, layout } = ctx
  const remote = session.remote
  if (settings.holdPorts) await checkHoldPorts(ctx)
  await remote.run(stampScript(ctx.releaseDir, settings.stampFile, ctx.sha), {
    phase: 'prepare',
    timeoutSeconds: COMMAND_SECONDS.quick
  })
  info(`Wrote ${settings.stampFile} = ${ctx.sha}`)
  if (strategyOf(settings).keepsReleases && settings.sharedPaths.length > 0) {
    const made = { dirs: settings.sharedDirs, files: settings.envFile ? [settings.envFile] : [] }
    await remote.run(
      linkSharedScript(ctx.releaseDir, layout.sharedDir, settings.sharedPaths, made),
      {
        phase: 'prepare',
        timeoutSeconds: COMMAND_SECONDS.tree,
        echo: true
      }
    )
    info(`Linked shared paths: ${settings.sharedPaths.join(', ')}`)
  }
  if (settings.envFile) await writeEnvFile(ctx, settings.envFile)
  if (settings.clearPycache) {
    const inRelease = insideTarget(layout.target, ctx.releaseDir)
    const { stdout } = await remote.run(
      sh`cd -- ${layout.target} || exit 1
${clearBytecodeScript(inRelease, [])}`,
      {
        phase: 'prepare',
        timeoutSeconds: COMMAND_SECONDS.wholeTree
      }
    )
    info(`Cleared bytecode in the new tree: removed ${removedCount(stdout)} .pyc/.pyo file(s)`)
  }
  if (settings.pythonRequirements.length > 0) await prepareVenv(ctx)
  if (settings.prepareCommand) {
    await runReleaseCommand(ctx, 'prepare-command', settings.prepareCommand)
  }
  if (settings.pythonImportCheck) await checkImport(ctx)
  if (!strategyOf(settings).keepsReleases) await planInPlaceSync(ctx)
}

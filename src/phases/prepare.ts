import * as core from '@actions/core'
import type { DeployContext } from '../context.js'
import { joinCode, sh, type ShellCode } from '../shell.js'
import { clearBytecodeScript, removedCount } from './bytecode.js'

/** Writes the full SHA into the stamp file of the new tree. */
export function stampScript(releaseDir: string, stampFile: string, sha: string): ShellCode {
  return sh`printf '%s\n' ${sha} > ${`${releaseDir}/${stampFile}`}`
}

const parentOf = (path: string): string => path.slice(0, path.lastIndexOf('/'))

/**
 * Links each shared path of the release to `<target>/shared/<path>`. The shared copy is created on
 * first use (seeded from the release when the source has that path, else an empty directory) and
 * never overwritten afterwards.
 */
export function linkSharedScript(
  releaseDir: string,
  sharedDir: string,
  paths: string[]
): ShellCode {
  const steps = paths.map(path => {
    const shared = `${sharedDir}/${path}`
    const inRelease = `${releaseDir}/${path}`
    return sh`mkdir -p -- ${parentOf(shared)} ${parentOf(inRelease)} || exit 1
if [ ! -e ${shared} ] && [ ! -L ${shared} ]; then
  if [ -e ${inRelease} ] || [ -L ${inRelease} ]; then mv -- ${inRelease} ${shared}; else mkdir -p -- ${shared}; fi || exit 1
  printf 'created shared path %s\n' ${path}
fi
rm -rf -- ${inRelease} && ln -s -- ${shared} ${inRelease} || exit 1`
  })
  return joinCode(steps)
}

/** prepare: stamp, shared paths, bytecode, while the old service still serves. */
export async function prepare(ctx: DeployContext): Promise<void> {
  const { settings, session, layout } = ctx
  const remote = session.remote
  await remote.run(stampScript(ctx.releaseDir, settings.stampFile, ctx.sha), {
    phase: 'prepare',
    timeoutSeconds: 60
  })
  core.info(`Wrote ${settings.stampFile} = ${ctx.sha}`)
  if (settings.strategy === 'releases' && settings.sharedPaths.length > 0) {
    await remote.run(linkSharedScript(ctx.releaseDir, layout.sharedDir, settings.sharedPaths), {
      phase: 'prepare',
      timeoutSeconds: 120,
      echo: true
    })
    core.info(`Linked shared paths: ${settings.sharedPaths.join(', ')}`)
  }
  if (settings.clearPycache) {
    const { stdout } = await remote.run(clearBytecodeScript(ctx.releaseDir, []), {
      phase: 'prepare',
      timeoutSeconds: 300
    })
    core.info(`Cleared bytecode in the new tree: removed ${removedCount(stdout)} .pyc/.pyo file(s)`)
  }
}

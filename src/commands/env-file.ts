import { joinCode, withInputs, type ShellCode } from '../remote/shell.js'
import ENV_FILE_SCRIPT from '../host/prepare/env-file.sh'
import { hostLibrary } from '../remote/host-library.js'
import { dirsAndName } from '../remote/layout.js'

/**
 * Writes stdin to `path` with mode 0600: into the shared directory when the path is under a shared
 * path (the release links it there), else into the release, in place of whatever the repository put
 * at that name (never through a link). The values come on stdin: no command line or script holds
 * them, and nothing logs them.
 */
export function envFileScript(dir: string, path: string): ShellCode {
  const { dirs, name } = dirsAndName(path)
  return joinCode([
    hostLibrary(),
    withInputs(ENV_FILE_SCRIPT, { env_dir: dir, env_dirs: dirs, env_name: name })
  ])
}

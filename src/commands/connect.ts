import LOGIND_SCRIPT from '../host/connect/logind.sh'
import { sh, ShellCode } from '../remote/shell.js'

/** Commands the pipeline needs on the host, and where to get each. */
export const REQUIRED_TOOLS: Record<string, string> = {
  sh: 'a POSIX shell',
  tar: 'package tar',
  find: 'package findutils',
  setsid: 'package util-linux',
  mkdir: 'package coreutils',
  ln: 'package coreutils',
  mv: 'package coreutils',
  kill: 'package procps or util-linux',
  head: 'package coreutils',
  mkfifo: 'package coreutils'
}

/**
 * One line per missing tool (`missing NAME`), then `home PATH`, then `logind kills USER` where
 * logind ends the user's processes at logout (logind.sh).
 */
export function toolCheckScript(): ShellCode {
  const tools = sh`for tool in ${Object.keys(REQUIRED_TOOLS)}; do command -v "$tool" >/dev/null 2>&1 || printf 'missing %s\n' "$tool"; done; printf 'home %s\n' "$HOME"`
  return new ShellCode(`${tools.text}\n(\n${LOGIND_SCRIPT}\n)`)
}

import { sh, type ShellCode } from '../remote/shell.js'

/** find's -path takes a glob: escape its metacharacters so a path is matched literally. */
export function findPathLiteral(path: string): string {
  return path.replace(/[\\*?[\]]/g, '\\$&')
}

/**
 * Removes `__pycache__` directories and stray `*.pyc`/`*.pyo` under `root`, leaving `keep` paths
 * (absolute) alone, and prints `removed N` (bytecode files). find does not follow symlinks, so
 * shared paths linked into a release are never entered.
 */
export function clearBytecodeScript(root: string, keep: string[]): ShellCode {
  const pruned =
    keep.length > 0
      ? sh`\( ${keep.flatMap((path, index) => (index === 0 ? ['-path', findPathLiteral(path)] : ['-o', '-path', findPathLiteral(path)]))} \) -prune -o`
      : sh``
  return sh`count=$(find ${root} ${pruned} -type f \( -name '*.pyc' -o -name '*.pyo' \) -print | wc -l) || exit 1
find ${root} ${pruned} -type d -name __pycache__ -prune -exec rm -rf -- {} + || exit 1
find ${root} ${pruned} -type f \( -name '*.pyc' -o -name '*.pyo' \) -exec rm -f -- {} + || exit 1
printf 'removed %s\n' "$count"`
}

export function removedCount(stdout: string): number {
  return Number(/removed\s+(\d+)/.exec(stdout)?.[1] ?? 0)
}

import { statSync } from 'node:fs'
import { join } from 'node:path'
import { problemText } from './inputs.js'

/**
 * What the inputs name on the runner, checked there: `source` is a directory and each of
 * python-requirements is a file in it. Problems as InputError lists them.
 */
export function runnerProblems(settings: {
  source: string
  pythonRequirements: string[]
}): string[] {
  const { source } = settings
  const problems: string[] = []
  if (!statSync(source, { throwIfNoEntry: false })?.isDirectory()) {
    problems.push(
      problemText(
        'source',
        source,
        'no such directory on the runner; check out the code first (actions/checkout) or fix the path'
      )
    )
  }
  for (const path of settings.pythonRequirements) {
    if (!statSync(join(source, path), { throwIfNoEntry: false })?.isFile()) {
      problems.push(
        problemText(
          'python-requirements',
          path,
          `no such file in source (${source}); list the repository's dependency files, e.g. requirements.txt`
        )
      )
    }
  }
  return problems
}

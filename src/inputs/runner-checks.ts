import { existsSync, readFileSync, statSync } from 'node:fs'
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
  // Run from a checkout of this action (npm run local), '.' is the action itself, node_modules and
  // the .env holding the key included: never what the user means to ship.
  if (
    existsSync(join(source, 'src', 'host', 'remote', 'session.sh')) &&
    /^name: Verified SSH Deploy$/m.test(readIfFile(join(source, 'action.yml')))
  ) {
    problems.push(
      problemText(
        'source',
        source,
        "that is this action's own checkout, not a project to ship: set source to your service's directory (INPUT_SOURCE in a local run's .env)"
      )
    )
  }
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

function readIfFile(path: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return ''
  }
}

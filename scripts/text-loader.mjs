// Node module hooks that load the host scripts (src/host/**/*.sh, *.awk, *.py) as text, as esbuild's
// text loader does for dist/ and scripts/jest-text.cjs for the tests: `import SCRIPT from
// '../host/lock/lock.sh'` gives the file's text. Registered by scripts/register-text-loader.mjs, for
// running src/ directly (npm run local).
import { readFile } from 'node:fs/promises'

const TEXT = /\.(sh|awk|py)$/

export async function load(url, context, nextLoad) {
  if (!TEXT.test(new URL(url).pathname)) return nextLoad(url, context)
  const text = await readFile(new URL(url), 'utf8')
  return { format: 'module', source: `export default ${JSON.stringify(text)};`, shortCircuit: true }
}

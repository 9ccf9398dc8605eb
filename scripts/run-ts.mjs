// Runs a TypeScript entry point (the demo, the benchmark) with the project's own code and test
// harness: esbuild bundles it into node_modules/.cache, then Node runs the bundle.
import { build } from 'esbuild'
import { spawnSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { basename } from 'node:path'

const entry = process.argv[2]
if (!entry) throw new Error('usage: node scripts/run-ts.mjs <entry.ts> [args...]')
mkdirSync('node_modules/.cache/verified-ssh-deploy', { recursive: true })
const outfile = `node_modules/.cache/verified-ssh-deploy/${basename(entry, '.ts')}.mjs`
await build({
  entryPoints: [entry],
  outfile,
  bundle: true,
  platform: 'node',
  // The host scripts (src/host): text, sent to the host as they are.
  loader: { '.sh': 'text', '.awk': 'text', '.py': 'text' },
  format: 'esm',
  packages: 'external',
  logLevel: 'warning'
})
const result = spawnSync(process.execPath, [outfile, ...process.argv.slice(3)], {
  stdio: 'inherit'
})
process.exit(result.status ?? 1)

// `npm run demo`: bundles demo/demo.ts (and the test harness it reuses) with esbuild, then runs it.
import { build } from 'esbuild'
import { spawnSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'

mkdirSync('node_modules/.cache/verified-ssh-deploy', { recursive: true })
const outfile = 'node_modules/.cache/verified-ssh-deploy/demo.mjs'
await build({
  entryPoints: ['demo/demo.ts'],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  packages: 'external',
  logLevel: 'warning'
})
const result = spawnSync(process.execPath, [outfile], { stdio: 'inherit' })
process.exit(result.status ?? 1)

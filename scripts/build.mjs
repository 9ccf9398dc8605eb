// Bundles the action into one ESM file that runs with no node_modules beside it.
import { build } from 'esbuild'

await build({
  entryPoints: { index: 'src/entry/index.ts', post: 'src/entry/post.ts' },
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  // The host scripts (src/host): text, sent to the host as they are.
  loader: { '.sh': 'text', '.awk': 'text', '.py': 'text' },
  format: 'esm',
  target: 'node20',
  // ssh2's optional native helpers; without them it uses its pure-JS crypto.
  external: ['*.node', 'cpu-features'],
  banner: {
    js: [
      "import { createRequire as __createRequire } from 'node:module';",
      "import { fileURLToPath as __fileURLToPath } from 'node:url';",
      "import { dirname as __pathDirname } from 'node:path';",
      'const require = __createRequire(import.meta.url);',
      'const __filename = __fileURLToPath(import.meta.url);',
      'const __dirname = __pathDirname(__filename);'
    ].join('\n')
  },
  legalComments: 'eof',
  logLevel: 'warning'
})

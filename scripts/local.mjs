// npm run local -- FILE: runs the action from src/ with GitHub's local-action runner, the main step
// (src/entry/main.ts) then the post step (src/entry/post-step.ts), with the inputs in FILE (a dotenv file: copy
// .env.example to .env). The host scripts load as text (register-text-loader.mjs), as the bundle
// has them. Nothing is fetched: @github/local-action is a dev dependency.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const envFile = process.argv[2]
if (!envFile || !existsSync(envFile)) {
  console.error(
    `usage: npm run local -- FILE, where FILE holds the inputs as INPUT_* lines (cp .env.example .env, then edit it)${envFile ? `; ${envFile} does not exist` : ''}`
  )
  process.exit(2)
}
const loader = join(root, 'scripts', 'register-text-loader.mjs')
const run = spawnSync(
  join(root, 'node_modules', '.bin', 'local-action'),
  ['run', root, 'src/entry/main.ts', resolve(envFile), '--post', 'src/entry/post-step.ts'],
  {
    cwd: root,
    stdio: 'inherit',
    env: {
      ...process.env,
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${loader}`.trim()
    }
  }
)
process.exit(run.status ?? 1)

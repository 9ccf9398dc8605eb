/** A deterministic source tree shaped like a Python service: 3,000 files, ~40 MB, 6 levels deep. */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'

/** mulberry32: small, seeded, good enough to make content. */
function random(seed: number): () => number {
  let state = seed
  return () => {
    state = (state + 0x6d2b79f5) | 0
    let t = Math.imul(state ^ (state >>> 15), 1 | state)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const WORDS = [
  'self',
  'return',
  'def',
  'import',
  'request',
  'response',
  'config',
  'model',
  'token',
  'user',
  'async',
  'await',
  'value',
  'items',
  'index',
  'embedding',
  'vector',
  'store',
  'chat',
  'history',
  'prompt',
  'stream',
  'error',
  'result',
  'None',
  'True',
  'False',
  'dict',
  'list',
  'str'
]

function text(next: () => number, bytes: number, kind: string): string {
  const lines: string[] = []
  let size = 0
  while (size < bytes) {
    const words = Array.from(
      { length: 3 + Math.floor(next() * 8) },
      () => WORDS[Math.floor(next() * WORDS.length)]
    )
    const id = Math.floor(next() * 1e6).toString(36)
    const line =
      kind === 'json'
        ? `  "${words[0]}_${id}": "${words.join(' ')}",`
        : `    ${words[0]}_${id} = ${words.slice(1).join('.')}(${id})`
    lines.push(line)
    size += line.length + 1
  }
  return lines.join('\n') + '\n'
}

export interface GeneratedTree {
  root: string
  files: string[]
  bytes: number
}

export function generateTree(root: string, seed = 42, count = 2992): GeneratedTree {
  const next = random(seed)
  const files: string[] = []
  let bytes = 0
  const dirs = ['app']
  for (let depth = 1; depth < 6; depth++) {
    for (const parent of dirs.filter(dir => dir.split('/').length === depth)) {
      for (let n = 0; n < 3; n++)
        dirs.push(
          `${parent}/${['api', 'core', 'utils', 'models', 'services'][Math.floor(next() * 5)]}${n}`
        )
    }
  }
  const kinds = ['py', 'py', 'py', 'json', 'txt']
  for (let index = 0; index < count; index++) {
    const kind = kinds[index % kinds.length]
    const path = `${dirs[index % dirs.length]}/file_${index}.${kind}`
    const content = text(next, 1500 + Math.floor(next() * 9000), kind)
    mkdirSync(dirname(join(root, path)), { recursive: true })
    writeFileSync(join(root, path), content)
    files.push(path)
    bytes += Buffer.byteLength(content)
  }
  const dataSizes = [1, 2, 3, 4, 5, 2, 3, 1].map(mb => mb * 1024 * 1024)
  for (const [index, size] of dataSizes.entries()) {
    const path = `data/models/blob_${index}.bin`
    const content = Buffer.alloc(size)
    for (let offset = 0; offset < size; offset += 4)
      content.writeUInt32LE(Math.floor(next() * 4294967296), offset)
    mkdirSync(dirname(join(root, path)), { recursive: true })
    writeFileSync(join(root, path), content)
    files.push(path)
    bytes += size
  }
  return { root, files, bytes }
}

/** Appends ~5 KB to 10 of the small files (~50 KB in all). */
export function editTenFiles(tree: GeneratedTree, round: number): void {
  const next = random(1000 + round)
  for (let n = 0; n < 10; n++)
    appendFileSync(join(tree.root, tree.files[n * 97]), text(next, 5000, 'py'))
}

/**
 * Dependencies point one way (docs/architecture.md): no module of src/ imports, through any chain,
 * a module that imports it back, and the phases never reach up to the flows that run them.
 */
import { describe, expect, it } from '@jest/globals'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, normalize } from 'node:path'

const SRC = join(import.meta.dirname, '../../src')

/** module → the project modules it imports (type-only imports too: they tie the code as well). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>()
  for (const file of readdirSync(SRC, { recursive: true, encoding: 'utf8' })) {
    if (!file.endsWith('.ts')) continue
    const text = readFileSync(join(SRC, file), 'utf8')
    const imports = [...text.matchAll(/from '(\.{1,2}\/[^']+)\.js'/g)].map(([, path]) =>
      normalize(join(dirname(file), `${path}.ts`))
    )
    graph.set(normalize(file), imports)
  }
  return graph
}

/** Every import chain that leads back to where it began, as `a → b → a`. */
function cycles(graph: Map<string, string[]>): string[] {
  const found = new Set<string>()
  const done = new Set<string>()
  const walk = (module: string, path: string[]): void => {
    const at = path.indexOf(module)
    if (at >= 0) {
      found.add([...path.slice(at), module].join(' → '))
      return
    }
    if (done.has(module)) return
    for (const next of graph.get(module) ?? []) walk(next, [...path, module])
    done.add(module)
  }
  for (const module of graph.keys()) walk(module, [])
  return [...found]
}

describe('module dependencies', () => {
  const graph = importGraph()

  it('reads the imports (the reader works)', () => {
    expect(graph.get('host.ts')).toContain(normalize('phases/prepare.ts'))
    expect(
      cycles(
        new Map([
          ['a.ts', ['b.ts']],
          ['b.ts', ['a.ts']]
        ])
      )
    ).toEqual(['a.ts → b.ts → a.ts'])
  })

  it('has no import cycle', () => {
    expect(cycles(graph)).toEqual([])
  })

  it('keeps the phases below the flows that run them', () => {
    const flows = [
      'main.ts',
      'deploy.ts',
      'operations.ts',
      'post-step.ts',
      'post.ts',
      'index.ts',
      'cancel.ts'
    ]
    const upward = [...graph]
      .filter(([module]) => module.startsWith('phases'))
      .flatMap(([module, imports]) =>
        imports.filter(target => flows.includes(target)).map(target => `${module} → ${target}`)
      )
    expect(upward).toEqual([])
  })
})

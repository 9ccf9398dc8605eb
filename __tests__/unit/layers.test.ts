/**
 * Dependencies point one way (docs/architecture.md): no module of src/ imports, through any chain,
 * a module that imports it back, and no folder reaches up to the ones that run it.
 */
import { describe, expect, it } from '@jest/globals'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, normalize, sep } from 'node:path'

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
    expect(graph.get(normalize('engine/deploy-host.ts'))).toContain(normalize('tasks/prepare.ts'))
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

  it('keeps each folder below the ones that run it: entry → engine → tasks → commands → the rest', () => {
    // A module of each folder may import only from the folders after its own in this order.
    const order = [
      'entry',
      'engine',
      'tasks',
      'commands',
      'model',
      'remote',
      'report',
      'inputs',
      'source'
    ]
    const rank = (module: string) => order.indexOf(module.split(/[\\/]/)[0])
    const below = new Set(['model', 'remote', 'report', 'inputs', 'source'])
    const upward = [...graph].flatMap(([module, imports]) =>
      imports
        .filter(target => {
          const [from, to] = [module, target].map(path => path.split(/[\\/]/)[0])
          if (from === to) return false
          // The bottom folders use each other (the model's types, the log, the inputs).
          if (below.has(from) && below.has(to)) return false
          return rank(target) < rank(module)
        })
        .map(target => `${module} → ${target}`)
    )
    expect(upward).toEqual([])
  })

  it('has every module in one of those folders', () => {
    const loose = [...graph.keys()].filter(
      module =>
        !/^(entry|engine|tasks|commands|model|remote|report|inputs|source)[\\/]/.test(module) &&
        !module.endsWith('.d.ts')
    )
    expect(loose).toEqual([])
  })

  it('keeps commands/ pure: it builds host commands and reads their answers, and runs nothing', () => {
    // Kamal's split: what to run is data; tasks/ runs it over the session and decides what follows.
    const running = [...graph.keys()]
      .filter(module => module.startsWith(`commands${sep}`))
      .flatMap(module => {
        const text = readFileSync(join(SRC, module), 'utf8')
        return [
          /\basync\b|\bawait\b/.test(text) && `${module}: async code`,
          /from '@actions\/core'/.test(text) && `${module}: writes to the log`,
          /\.run(Quiet)?\(/.test(text) && `${module}: runs a remote command`
        ].filter(Boolean)
      })
    expect(running).toEqual([])
  })
})

import { AsyncLocalStorage } from 'node:async_hooks'

/**
 * With several hosts deployed at once, their lines would interleave inside each other's log groups.
 * Each host's output is held back (by async context: everything a host's deploy starts writes
 * into its own buffer) and printed in one piece under a group of its own when that host is done.
 * Actions groups do not nest, so the phase groups inside become plain `── phase` headings.
 */
const buffers = new AsyncLocalStorage<string[]>()
let writeThrough: typeof process.stdout.write | undefined

function interceptStdout(): typeof process.stdout.write {
  if (writeThrough) return writeThrough
  const original = process.stdout.write.bind(process.stdout) as typeof process.stdout.write
  writeThrough = original
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
    const buffer = buffers.getStore()
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8')
    // A secret's mask must reach the runner before anything that could print the secret.
    if (!buffer || text.startsWith('::add-mask::'))
      return (original as (...args: unknown[]) => boolean)(chunk, ...rest)
    buffer.push(text)
    const callback = rest.find(argument => typeof argument === 'function') as
      (() => void) | undefined
    callback?.()
    return true
  }) as typeof process.stdout.write
  return original
}

/** Runs `work` with its output kept together under `label` (when `separate`), printed at its end. */
export async function withHostOutput<T>(
  label: string,
  separate: boolean,
  work: () => Promise<T>
): Promise<T> {
  if (!separate) return work()
  const write = interceptStdout()
  const lines: string[] = []
  try {
    return await buffers.run(lines, work)
  } finally {
    const text = lines
      .join('')
      .replace(/^::group::(.*)$/gm, '── $1')
      .replace(/^::endgroup::\n/gm, '')
    write(`::group::${label}\n${text}${text.endsWith('\n') || !text ? '' : '\n'}::endgroup::\n`)
  }
}

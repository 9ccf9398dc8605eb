import { describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { gunzipSync } from 'node:zlib'
import { createParallelGzip, looksIncompressible } from '../../src/source/parallel-gzip.js'

async function compress(chunks: Buffer[], segmentBytes: number): Promise<Buffer> {
  const out: Buffer[] = []
  const stream = Readable.from(chunks).pipe(createParallelGzip({ level: 1, segmentBytes }))
  for await (const chunk of stream) out.push(chunk as Buffer)
  return Buffer.concat(out)
}

describe('parallel gzip', () => {
  const text = Buffer.from('def handler(request):\n    return response.json()\n'.repeat(40000))
  const noise = randomBytes(3 * 1024 * 1024)

  it('tells random bytes from text', () => {
    expect(looksIncompressible(noise)).toBe(true)
    expect(looksIncompressible(text)).toBe(false)
  })

  it('is one gzip stream to gzip -d, in input order; text shrinks, noise costs only framing', async () => {
    const chunks: Buffer[] = []
    for (const source of [text, noise, text.subarray(0, 12345)])
      for (let offset = 0; offset < source.length; offset += 70000)
        chunks.push(source.subarray(offset, offset + 70000))
    const input = Buffer.concat(chunks)
    const gzipped = await compress(chunks, 256 * 1024)
    // The host side decodes it with the real gzip binary (several members, one output).
    expect(
      execFileSync('gzip', ['-dc'], { input: gzipped, maxBuffer: 64 << 20 }).equals(input)
    ).toBe(true)
    expect(gunzipSync(gzipped).equals(input)).toBe(true)
    // Text shrinks a lot; the noise costs only stored-block framing.
    expect(gzipped.length).toBeLessThan(noise.length + text.length / 5)
    expect(gzipped.length).toBeGreaterThan(noise.length)
  })

  it('writes a valid empty stream for no input', async () => {
    const gzipped = await compress([], 1024)
    expect(gunzipSync(gzipped).length).toBe(0)
  })
})

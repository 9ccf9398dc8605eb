import { Transform, type TransformCallback } from 'node:stream'
import { promisify } from 'node:util'
import { gzip } from 'node:zlib'

const gzipAsync = promisify(gzip)

export interface ParallelGzipOptions {
  /** deflate level for data that compresses. */
  level: number
  /** Bytes per gzip member. */
  segmentBytes?: number
  /** Members compressed at once on libuv's thread pool. */
  concurrency?: number
}

const SAMPLES = 4
const SAMPLE_BYTES = 4096

/**
 * Whether deflate would gain little on `segment` (model weights, archives, media): the byte
 * entropy of a few windows spread over it is close to 8 bits. Counting bytes is far cheaper than
 * a trial deflate, which must set up a whole compressor.
 */
export function looksIncompressible(segment: Buffer): boolean {
  if (segment.length < SAMPLES * SAMPLE_BYTES * 2) return false
  const counts = new Uint32Array(256)
  const step = Math.floor((segment.length - SAMPLE_BYTES) / (SAMPLES - 1))
  for (let index = 0; index < SAMPLES; index++) {
    const start = index * step
    for (let offset = start; offset < start + SAMPLE_BYTES; offset++) counts[segment[offset]]++
  }
  const total = SAMPLES * SAMPLE_BYTES
  let bits = 0
  for (const count of counts) if (count > 0) bits -= (count / total) * Math.log2(count / total)
  return bits > 7.5
}

/**
 * A gzip stream that keeps up with a fast link. The input is cut into segments, each written as
 * its own gzip member (concatenated members are one valid stream to `gzip -d` and `tar -z`), so
 * several are compressed at once; a segment that does not compress is stored, not deflated, which
 * costs a copy instead of the CPU time deflate burns on random bytes. Output keeps input order.
 */
export function createParallelGzip(options: ParallelGzipOptions): Transform {
  const segmentBytes = options.segmentBytes ?? 1024 * 1024
  const concurrency = options.concurrency ?? 4
  let pending: Buffer[] = []
  let pendingBytes = 0
  const inFlight: Promise<Buffer>[] = []

  const cut = (): void => {
    const segment = Buffer.concat(pending, pendingBytes)
    pending = []
    pendingBytes = 0
    const level = looksIncompressible(segment) ? 0 : options.level
    // Output buffers of a quarter segment: fewer thread-pool round trips than zlib's 16 KiB.
    const member = gzipAsync(segment, { level, chunkSize: 256 * 1024 })
    member.catch(() => undefined) // awaited in order below; this only avoids an unhandled rejection
    inFlight.push(member)
  }

  return new Transform({
    transform(chunk: Buffer, _encoding, done: TransformCallback) {
      pending.push(chunk)
      pendingBytes += chunk.length
      if (pendingBytes < segmentBytes) {
        done()
        return
      }
      cut()
      if (inFlight.length < concurrency) {
        done()
        return
      }
      ;(inFlight.shift() as Promise<Buffer>).then(member => done(null, member), done)
    },
    flush(done: TransformCallback) {
      if (pendingBytes > 0 || inFlight.length === 0) cut()
      const drain = async (): Promise<void> => {
        for (const member of inFlight.splice(0)) this.push(await member)
      }
      drain().then(() => done(), done)
    }
  })
}

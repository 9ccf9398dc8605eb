/**
 * A TCP relay on loopback in front of sshd, counting bytes each way. The `wan` profile adds a
 * one-way delay and a bandwidth cap per direction (a runner in another region); `loopback` relays
 * at once.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { performance } from 'node:perf_hooks'

export interface LinkProfile {
  name: string
  /** One-way delay, ms. */
  delayMs: number
  /** Per direction, bytes per second; 0 = uncapped. */
  bytesPerSecond: number
}

export const PROFILES: LinkProfile[] = [
  { name: 'loopback', delayMs: 0, bytesPerSecond: 0 },
  { name: 'wan', delayMs: 25, bytesPerSecond: (50 * 1000 * 1000) / 8 }
]

/** One direction of the link: chunks leave in order, spaced by the bandwidth, arrive after the delay. */
class Lane {
  private readonly queue: { chunk: Buffer; at: number }[] = []
  private busyUntil = 0
  private queued = 0
  private timer: NodeJS.Timeout | undefined

  constructor(
    private readonly profile: LinkProfile,
    private readonly from: Socket,
    private readonly to: Socket,
    private readonly count: (bytes: number) => void
  ) {
    from.on('data', (chunk: Buffer) => this.push(chunk))
    from.on('end', () => this.push(undefined))
  }

  private push(chunk: Buffer | undefined): void {
    if (chunk) this.count(chunk.length)
    const now = performance.now()
    if (this.profile.delayMs === 0 && this.profile.bytesPerSecond === 0) {
      if (!chunk) this.to.end()
      else if (!this.to.write(chunk)) {
        this.from.pause()
        this.to.once('drain', () => this.from.resume())
      }
      return
    }
    const size = chunk?.length ?? 0
    const start = Math.max(now, this.busyUntil)
    this.busyUntil =
      start + (this.profile.bytesPerSecond ? (size / this.profile.bytesPerSecond) * 1000 : 0)
    this.queue.push({ chunk: chunk ?? Buffer.alloc(0), at: this.busyUntil + this.profile.delayMs })
    if (!chunk) this.queue[this.queue.length - 1].at = -this.queue[this.queue.length - 1].at // marks end
    this.queued += size
    // Back-pressure: a sender cannot run far ahead of the link, as with a real TCP window.
    if (this.queued > 4 * 1024 * 1024) this.from.pause()
    this.schedule()
  }

  private schedule(): void {
    if (this.timer || this.queue.length === 0) return
    const due = Math.abs(this.queue[0].at)
    this.timer = setTimeout(() => this.deliver(), Math.max(0, due - performance.now()))
  }

  private deliver(): void {
    this.timer = undefined
    const now = performance.now()
    while (this.queue.length > 0 && Math.abs(this.queue[0].at) <= now + 0.5) {
      const { chunk, at } = this.queue.shift() as { chunk: Buffer; at: number }
      if (at < 0) this.to.end()
      else this.to.write(chunk)
      this.queued -= chunk.length
    }
    if (this.queued < 1024 * 1024) this.from.resume()
    this.schedule()
  }
}

export interface Link {
  port: number
  profile: LinkProfile
  /** Bytes from the client (runner) to the server since the last reset. */
  sent(): number
  received(): number
  reset(): void
  /** Resolves at the next connection's first client byte (for cold-start timing). */
  nextFirstByte(): Promise<number>
  close(): Promise<void>
}

export async function startLink(targetPort: number, profile: LinkProfile): Promise<Link> {
  let sent = 0
  let received = 0
  let firstByteWaiter: ((at: number) => void) | undefined
  const sockets = new Set<Socket>()
  const server: Server = createServer(client => {
    const upstream = createConnection({ host: '127.0.0.1', port: targetPort })
    client.setNoDelay(true)
    upstream.setNoDelay(true)
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
      socket.on('error', () => {
        client.destroy()
        upstream.destroy()
      })
    }
    client.once('data', () => {
      firstByteWaiter?.(performance.now())
      firstByteWaiter = undefined
    })
    new Lane(profile, client, upstream, bytes => (sent += bytes))
    new Lane(profile, upstream, client, bytes => (received += bytes))
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as { port: number }).port,
    profile,
    sent: () => sent,
    received: () => received,
    reset: () => {
      sent = 0
      received = 0
    },
    nextFirstByte: () => new Promise(resolve => (firstByteWaiter = resolve)),
    close: () =>
      new Promise(resolve => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      })
  }
}

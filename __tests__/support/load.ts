/**
 * A client that opens a fresh connection at a fixed rate and asks for /version, as a stream of
 * users would during a deploy: what was refused, reset or failed, and what each answer reported.
 */
import { request } from 'node:http'

export interface LoadResult {
  sent: number
  answered: number
  refused: number
  reset: number
  failed: number
  /** The longest a request waited for its answer, in ms. */
  longestMs: number
  /** Each answer: when its request was sent (ms since the epoch) and the commit it reported. */
  answers: { sentAt: number; commit: string }[]
  /** The errors that were neither refused nor reset, as text. */
  errors: string[]
}

export function startLoad(port: number, perSecond = 100, timeoutMs = 30000) {
  const result: LoadResult = {
    sent: 0,
    answered: 0,
    refused: 0,
    reset: 0,
    failed: 0,
    longestMs: 0,
    answers: [],
    errors: []
  }
  const pending = new Set<Promise<void>>()
  const once = (): void => {
    const sentAt = Date.now()
    result.sent++
    const done = new Promise<void>(resolve => {
      const finish = (): void => {
        result.longestMs = Math.max(result.longestMs, Date.now() - sentAt)
        resolve()
      }
      const call = request(
        { host: '127.0.0.1', port, path: '/version', agent: false, timeout: timeoutMs },
        response => {
          let body = ''
          response.setEncoding('utf8')
          response.on('data', chunk => (body += chunk))
          response.on('end', () => {
            try {
              result.answers.push({ sentAt, commit: JSON.parse(body).commit })
              result.answered++
            } catch {
              result.failed++
              result.errors.push(`HTTP ${response.statusCode}: ${body.slice(0, 80)}`)
            }
            finish()
          })
        }
      )
      call.on('timeout', () => call.destroy(new Error('timed out')))
      call.on('error', (error: NodeJS.ErrnoException) => {
        if (error.code === 'ECONNREFUSED') result.refused++
        else if (error.code === 'ECONNRESET') result.reset++
        else {
          result.failed++
          result.errors.push(error.message)
        }
        finish()
      })
      call.end()
    })
    pending.add(done)
    void done.then(() => pending.delete(done))
  }
  const timer = setInterval(once, 1000 / perSecond)
  return {
    result,
    /** Stops sending and waits for the answers still on their way. */
    async stop(): Promise<LoadResult> {
      clearInterval(timer)
      await Promise.all([...pending])
      return result
    }
  }
}

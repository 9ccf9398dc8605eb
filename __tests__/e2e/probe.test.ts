/**
 * The version check through the host keeps its per-request limits (5 s for the whole answer, 1 MB
 * of body): an endpoint that never answers, trickles bytes or sends 50 MB cannot stall verify.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { deploy, deployInputs, failureMessage, useSshd } from '../support/deploy.js'
import { serviceSource, sha } from '../support/service.js'
import { freePort, type TestSshd } from '../support/sshd.js'

let sshd: TestSshd
useSshd(started => (sshd = started), { stopServicesAfterEach: true })

const BAD_ENDPOINTS = `
import http.server, socketserver, sys, time
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/silent":
            time.sleep(600)
        elif self.path == "/trickle":
            self.send_response(200); self.send_header("Content-Length", "1000000"); self.end_headers()
            for _ in range(600):
                self.wfile.write(b" "); self.wfile.flush(); time.sleep(0.5)
        elif self.path == "/huge":
            self.send_response(200); self.send_header("Content-Length", str(50 * 2**20)); self.end_headers()
            self.wfile.write(b'{"commit": "' + sys.argv[2].encode() + b'", "pad": "')
            for _ in range(50):
                self.wfile.write(b"x" * 2**20)
    def log_message(self, *args):
        pass
class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
Server(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
`

let badPort: number
let server: ChildProcess
beforeAll(async () => {
  badPort = await freePort()
  server = spawn('python3', ['-c', BAD_ENDPOINTS, String(badPort), sha('9')], { stdio: 'ignore' })
  await new Promise(resolve => setTimeout(resolve, 500))
})
afterAll(() => {
  server.kill('SIGKILL')
})

describe('version check through the host, against endpoints that misbehave', () => {
  it.each([
    ['never answers', 'silent', 'no full answer within 5 s'],
    ['trickles a byte every half second', 'trickle', 'no full answer within 5 s'],
    ['sends 50 MB', 'huge', 'the body is over 1 MB']
  ])(
    '%s: verify ends at version-timeout with the expected SHA and the log',
    async (_name, path, problem) => {
      const target = join(sshd.dir, `probe-${path}`)
      const inputs = await deployInputs(sshd, serviceSource(), target, {
        'version-url': `http://127.0.0.1:${badPort}/${path}`,
        'version-timeout': '3',
        'rollback-on-failure': 'false',
        sha: sha('9')
      })
      const started = Date.now()
      const result = await deploy(inputs, 1)
      // One poll at most past version-timeout: 3 s + 5 s, and the rest of the deploy.
      expect(Date.now() - started).toBeLessThan(30_000)
      const message = failureMessage(result)
      expect(message).toContain(`Expected commit: ${sha('9')}`)
      expect(message).toContain(problem)
      expect(message).toContain(`--- this start in ${target}/.deploy/service.log`)
    }
  )
})

/**
 * The login-cost case of `npm run bench`: the same deploy (the test service, a code change, a
 * managed venv reused) as deploy users whose `.bashrc` is silent, takes 0.5 s, or takes 1.5 s (as
 * `pyenv init` or conda's hook do on GPU hosts). The action starts the login shell once per
 * connection, so each deploy should cost the slow user about one login more than the silent one,
 * not one per command: `logins` is that extra time over the login's own cost.
 */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { runAction } from '../__tests__/support/action.js'
import { serviceSource, sha } from '../__tests__/support/service.js'
import { freePort, startSshd } from '../__tests__/support/sshd.js'
import { write } from '../__tests__/support/tree.js'
import { createUser } from '../__tests__/support/users.js'

export interface LoginSample {
  /** What one login of this user costs: its .bashrc's sleep. */
  loginSeconds: number
  /** Wall time of each measured deploy. */
  seconds: number[]
}

const COSTS = [0, 0.5, 1.5]

/** `deploys` timed deploys per login cost, after a first one per user; all in this run. */
export async function loginCost(deploys: number): Promise<LoginSample[]> {
  const sshd = await startSshd({ extraConfig: ['AuthorizedKeysFile .ssh/authorized_keys'] })
  const samples: LoginSample[] = []
  try {
    for (const loginSeconds of COSTS) {
      const user = createUser(sshd, 'vsdbench', '/bin/bash', {
        '.bashrc': loginSeconds > 0 ? `sleep ${loginSeconds}\n` : ''
      })
      try {
        const source = serviceSource()
        const port = await freePort()
        const inputs = (commit: string) => ({
          host: `127.0.0.1:${sshd.port}`,
          username: user.name,
          'private-key': sshd.keys.ed25519.text,
          'known-hosts': sshd.knownHosts.ed25519,
          source,
          target: '~/app',
          'start-command': `python3 -m vsdsvc start --port ${port}`,
          ports: String(port),
          'version-url': `http://127.0.0.1:${port}/version`,
          'stable-for': '0',
          env: 'PYTHONDONTWRITEBYTECODE=1',
          sha: commit
        })
        const deploy = async (commit: string) => {
          const started = performance.now()
          const result = await runAction(inputs(commit), { timeoutMs: 180_000 })
          if (result.code !== 0) throw new Error(`bench deploy failed:\n${result.stdout}`)
          return (performance.now() - started) / 1000
        }
        await deploy(sha('0'))
        const seconds: number[] = []
        for (let index = 1; index <= deploys; index++) {
          write(source, 'CHANGE', `${index}\n`)
          seconds.push(await deploy(sha(String(index % 10))))
        }
        samples.push({ loginSeconds, seconds })
        rmSync(join(user.home, 'app'), { recursive: true, force: true })
      } finally {
        user.remove()
      }
    }
  } finally {
    await sshd.stop()
  }
  return samples
}

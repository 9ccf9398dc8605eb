import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { deploy, failureMessage } from '../support/deploy.js'
import { killNamespace, namespaces, type Namespaces } from '../support/netns.js'
import { namespacedServiceInputs, sha } from '../support/service.js'
import { startSshd, type TestSshd } from '../support/sshd.js'

/**
 * runner ── 169.254.21.0/30 ── bastion ── 169.254.22.0/30 ── target
 * The target's namespace is joined to the bastion's only, so the runner has no route to it.
 */
let net: Namespaces
let keys: TestSshd
let bastion: TestSshd
let target: TestSshd
let home: string
let targetNs: string

beforeAll(async () => {
  net = namespaces()
  keys = await startSshd()
  const bastionNs = net.add('bastion')
  targetNs = net.add('target')
  const toBastion = net.link(undefined, bastionNs, 21)
  const toTarget = net.link(bastionNs, targetNs, 22)
  home = join(keys.dir, 'target-home')
  bastion = await startSshd({
    netns: bastionNs,
    listenAddress: toBastion.bAddress,
    user: keys.user,
    authorize: [keys.keys.ed25519]
  })
  target = await startSshd({
    netns: targetNs,
    listenAddress: toTarget.bAddress,
    user: keys.user,
    authorize: [keys.keys.ed25519],
    extraConfig: [`SetEnv HOME=${home}`]
  })
})

afterAll(async () => {
  killNamespace(targetNs)
  for (const server of [target, bastion, keys]) await server?.stop()
  net?.remove()
})

function inputs(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    host: target.host,
    username: keys.user,
    'private-key': keys.keys.ed25519.text,
    'known-hosts': `${bastion.knownHosts.ed25519}\n${target.knownHosts.ed25519}`,
    'jump-host': `${keys.user}@${bastion.host}:22`,
    ...namespacedServiceInputs(),
    'version-timeout': '10',
    'connect-timeout': '5',
    sha: sha('b'),
    ...overrides
  }
}

describe('jump host', () => {
  it('the target cannot be reached from the runner directly', async () => {
    const result = await deploy(inputs({ 'jump-host': '' }), 1)
    expect(failureMessage(result)).toContain(
      `${target.host}:22 is unreachable from the runner (EHOSTUNREACH)`
    )
  })

  it('deploys and verifies through the bastion, both host keys pinned', async () => {
    const result = await deploy(inputs())
    expect(result.stdout).toContain(
      `Jump host ${bastion.host}:22: host key matches known-hosts line 1`
    )
    expect(result.stdout).toContain(
      `Connected to ${keys.user}@${target.host}:22; host key matches known-hosts line 2`
    )
    expect(readFileSync(join(home, 'app/current/REVISION'), 'utf8').trim()).toBe(sha('b'))
    expect(bastion.log()).toContain(`Accepted publickey for ${keys.user} from 169.254.21.1`)
  })

  it("deploys through proxy-command instead: OpenSSH's own client, ssh -W through the bastion", async () => {
    const bastionKnown = join(keys.dir, 'bastion_known_hosts')
    writeFileSync(bastionKnown, `${bastion.knownHosts.ed25519}\n`)
    const result = await deploy(
      inputs({
        'jump-host': '',
        'known-hosts': target.knownHosts.ed25519,
        'proxy-command': `ssh -W %h:%p -i ${keys.keys.ed25519.path} -o UserKnownHostsFile=${bastionKnown} -o StrictHostKeyChecking=yes -o BatchMode=yes ${keys.user}@${bastion.host}`,
        sha: sha('c')
      })
    )
    expect(result.stdout).toContain(
      `Connected to ${keys.user}@${target.host}:22; host key matches known-hosts line 1`
    )
    expect(readFileSync(join(home, 'app/current/REVISION'), 'utf8').trim()).toBe(sha('c'))
  })

  it('refuses proxy-command and jump-host together, before connecting', async () => {
    const result = await deploy(inputs({ 'proxy-command': 'nc %h %p' }), 1)
    expect(failureMessage(result)).toContain(
      "proxy-command is 'nc %h %p': set it or jump-host, not both"
    )
  })

  it("refuses a bastion whose key is not pinned, printing the bastion's fingerprint", async () => {
    const result = await deploy(inputs({ 'known-hosts': target.knownHosts.ed25519 }), 1)
    const message = failureMessage(result)
    expect(message).toContain(`known-hosts has no line for ${bastion.host}:22`)
    expect(message).toContain(bastion.fingerprints.ed25519)
  })
})

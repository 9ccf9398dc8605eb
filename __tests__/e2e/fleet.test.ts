import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { deploy, failureMessage } from '../support/deploy.js'
import { TEST_SHA } from '../support/fixtures.js'
import { killNamespace, namespaces, type Namespaces } from '../support/netns.js'
import { namespacedServiceInputs, sha } from '../support/service.js'
import { startSshd, type TestSshd } from '../support/sshd.js'

/** Three hosts, each in its own network namespace with its own address and loopback. */
let net: Namespaces
let hosts: { sshd: TestSshd; ns: string; home: string }[] = []
let keyHolder: TestSshd

beforeAll(async () => {
  net = namespaces()
  keyHolder = await startSshd()
  hosts = []
  for (const [index, subnet] of [11, 12, 13].entries()) {
    const ns = net.add(`h${index + 1}`)
    const { bAddress } = net.link(undefined, ns, subnet)
    const home = join(keyHolder.dir, `home-${index + 1}`)
    // Host 2 runs a build whose version endpoint reports a stale stamp: it must fail verification.
    const faulty = index === 1 ? ` VSDSVC_STAMP_FROM=${join(keyHolder.dir, 'stale-stamp')}` : ''
    const sshd = await startSshd({
      netns: ns,
      listenAddress: bAddress,
      user: keyHolder.user,
      authorize: [keyHolder.keys.ed25519],
      extraConfig: [`SetEnv HOME=${home}${faulty}`]
    })
    hosts.push({ sshd, ns, home })
  }
})

afterAll(async () => {
  for (const { ns } of hosts) killNamespace(ns)
  await Promise.all(hosts.map(({ sshd }) => sshd.stop()))
  await keyHolder?.stop()
  net?.remove()
})

function fleetInputs(
  which: number[],
  overrides: Record<string, string> = {}
): Record<string, string> {
  const chosen = which.map(index => hosts[index])
  return {
    host: chosen.map(({ sshd }) => sshd.host).join('\n'),
    username: keyHolder.user,
    'private-key': keyHolder.keys.ed25519.text,
    'known-hosts': chosen.map(({ sshd }) => sshd.knownHosts.ed25519).join('\n'),
    ...namespacedServiceInputs(),
    'version-timeout': '5',
    ...overrides
  }
}

const liveRevision = (home: string) =>
  readFileSync(join(home, 'app/current/REVISION'), 'utf8').trim()

describe('several hosts', () => {
  it('deploys max-parallel hosts at once, each verified on its own loopback', async () => {
    const result = await deploy({ ...fleetInputs([0, 2], { 'max-parallel': '2' }), sha: sha('a') })
    const entries = JSON.parse(result.outputs.hosts)
    expect(
      entries.map((entry: { host: string; result: string }) => [entry.host, entry.result])
    ).toEqual([
      [`${hosts[0].sshd.host}:22`, 'success'],
      [`${hosts[2].sshd.host}:22`, 'success']
    ])
    expect(liveRevision(hosts[0].home)).toBe(sha('a'))
    expect(liveRevision(hosts[2].home)).toBe(sha('a'))
    // Each host's lines stay together under one group of its own, its phases as headings in it.
    const labels = [`${hosts[0].sshd.host}:22`, `${hosts[2].sshd.host}:22`]
    const groups = [...result.stdout.matchAll(/^::group::(.*)\n([\s\S]*?)^::endgroup::$/gm)]
    expect(groups.map(([, label]) => label).sort()).toEqual([...labels].sort())
    expect(result.stdout.match(/^::group::/gm)).toHaveLength(2)
    for (const [, label, body] of groups) {
      const other = labels.find(candidate => candidate !== label) as string
      for (const phase of ['connect', 'upload', 'start', 'verify'])
        expect(body).toContain(`── ${label}: ${phase}\n`)
      expect(body).not.toContain(other)
    }
  })

  it('rolling: stops at the first failing host, leaving earlier hosts on the new release and later ones untouched', async () => {
    const result = await deploy({ ...fleetInputs([0, 1, 2]), sha: TEST_SHA }, 1)
    const [first, second, third] = JSON.parse(result.outputs.hosts)
    expect(first).toMatchObject({ result: 'success', sha: TEST_SHA })
    expect(second).toMatchObject({ result: 'failed', failedPhase: 'verify' })
    expect(third).toMatchObject({ result: 'not-started', phases: [] })
    expect(failureMessage(result)).toContain(`[${hosts[1].sshd.host}:22] verify:`)
    const finalError =
      result.stdout
        .split('\n')
        .filter(line => line.startsWith('::error::'))
        .pop() ?? ''
    expect(finalError).toContain(`Deploy failed on ${hosts[1].sshd.host}:22 in verify`)
    expect(finalError).toContain(`Deployed (left on the new release): ${hosts[0].sshd.host}:22`)
    expect(finalError).toContain(`Not started: ${hosts[2].sshd.host}:22`)
    expect(result.summary).toContain(`<td>${hosts[0].sshd.host}:22</td><td>success</td>`)
    expect(result.summary).toContain(`<td>${hosts[1].sshd.host}:22</td><td>failed in verify</td>`)
    expect(result.summary).toContain(`<td>${hosts[2].sshd.host}:22</td><td>not-started</td>`)
    expect(liveRevision(hosts[0].home)).toBe(TEST_SHA)
    expect(liveRevision(hosts[2].home)).toBe(sha('a'))
    expect(existsSync(join(hosts[1].home, 'app/current'))).toBe(true)
  })
})

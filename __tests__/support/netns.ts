/**
 * Test hosts with their own network stacks: Linux network namespaces joined by veth pairs, with
 * link-local addresses. Each namespace has its own loopback, so services on the same port do not
 * collide, and a namespace joined only to another one is reachable only through it.
 */
import { execFileSync } from 'node:child_process'

const ip = (...args: string[]): void => {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] })
}

export interface Namespaces {
  /** Creates a namespace (loopback up). */
  add(name: string): string
  /** Joins `a` and `b` (undefined = the runner's namespace) with addresses `a`.1 and `b`.2 of 169.254.`subnet`.0/30. */
  link(a: string | undefined, b: string, subnet: number): { aAddress: string; bAddress: string }
  remove(): void
}

let counter = 0

export function namespaces(): Namespaces {
  const prefix = `vsd${process.pid % 100000}x${counter++}`
  const created: string[] = []
  const links: string[] = []
  const routes: string[] = []
  return {
    add(name) {
      const full = `${prefix}${name}`
      ip('netns', 'add', full)
      created.push(full)
      ip('-n', full, 'link', 'set', 'lo', 'up')
      return full
    },
    link(a, b, subnet) {
      const aEnd = `${prefix.slice(-6)}${subnet}a`
      const bEnd = `${prefix.slice(-6)}${subnet}b`
      const aAddress = `169.254.${subnet}.1`
      const bAddress = `169.254.${subnet}.2`
      ip(
        ...(a ? ['-n', a] : []),
        'link',
        'add',
        aEnd,
        'type',
        'veth',
        'peer',
        'name',
        bEnd,
        'netns',
        b
      )
      if (!a) links.push(aEnd)
      ip(...(a ? ['-n', a] : []), 'addr', 'add', `${aAddress}/30`, 'dev', aEnd)
      ip(...(a ? ['-n', a] : []), 'link', 'set', aEnd, 'up')
      ip('-n', b, 'addr', 'add', `${bAddress}/30`, 'dev', bEnd)
      ip('-n', b, 'link', 'set', bEnd, 'up')
      if (a) {
        // The runner has no path to a subnet between two namespaces; say so explicitly, so a
        // connection attempt fails here instead of following the default route off the machine.
        ip('route', 'add', 'unreachable', `169.254.${subnet}.0/30`)
        routes.push(`169.254.${subnet}.0/30`)
      }
      return { aAddress, bAddress }
    },
    remove() {
      for (const route of routes.splice(0)) ip('route', 'del', 'unreachable', route)
      for (const link of links.splice(0)) {
        try {
          ip('link', 'del', link)
        } catch {
          // gone with its namespace
        }
      }
      for (const name of created.splice(0)) ip('netns', 'del', name)
    }
  }
}

/** Kills every process in a namespace (the services a deploy started there), for cleanup. */
export function killNamespace(name: string | undefined): void {
  if (!name) return
  const pids = execFileSync('ip', ['netns', 'pids', name], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
  for (const pid of pids) {
    try {
      process.kill(Number(pid), 'SIGKILL')
    } catch {
      // already gone
    }
  }
}

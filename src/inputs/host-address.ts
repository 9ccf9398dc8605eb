import { isIP } from 'node:net'

/** One SSH endpoint as the user wrote it: `host`, `host:port`, `[v6]:port`, with optional `user@`. */
export interface HostAddress {
  host: string
  port: number
  username: string
}

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_-]{1,63})*\.?$/

/** `host:port`, `[v6]:port` style label used in logs, outputs and known_hosts lookups. */
export function hostLabel(address: { host: string; port: number }): string {
  const host = address.host.includes(':') ? `[${address.host}]` : address.host
  return `${host}:${address.port}`
}

export function parsePort(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined
  const port = Number(text)
  return port >= 1 && port <= 65535 ? port : undefined
}

/**
 * Parses one host entry. Returns a string explaining the problem instead of throwing, so the
 * caller can name the input it came from.
 */
export function parseHostAddress(
  entry: string,
  defaults: { port: number; username: string }
): HostAddress | string {
  let rest = entry.trim()
  let username = defaults.username
  const at = rest.lastIndexOf('@')
  if (at >= 0) {
    username = rest.slice(0, at)
    rest = rest.slice(at + 1)
    if (!username) return `'${entry}' has an empty user before '@'`
  }
  let host = rest
  let port = defaults.port
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(rest)
  if (bracketed) {
    host = bracketed[1]
    if (bracketed[2] !== undefined) {
      const parsed = parsePort(bracketed[2])
      if (parsed === undefined) return `'${entry}' has port '${bracketed[2]}'; use 1-65535`
      port = parsed
    }
    if (isIP(host) !== 6) return `'${entry}': only IPv6 addresses go in [brackets]`
  } else if ((rest.match(/:/g) ?? []).length === 1) {
    const colon = rest.indexOf(':')
    host = rest.slice(0, colon)
    const parsed = parsePort(rest.slice(colon + 1))
    if (parsed === undefined) return `'${entry}' has port '${rest.slice(colon + 1)}'; use 1-65535`
    port = parsed
  } else if (rest.includes(':') && isIP(rest) !== 6) {
    return `'${entry}' is not a host name or address; write an IPv6 address with a port as [addr]:port`
  }
  if (!host) return `'${entry}' has no host name`
  if (isIP(host) === 0 && !HOSTNAME.test(host)) {
    return `'${entry}' is not a valid host name or IP address`
  }
  if (!username) return `'${entry}' has no user: set the 'username' input or write user@host`
  if (/[\s:@]/.test(username)) return `'${entry}' has an invalid user name '${username}'`
  return { host, port, username }
}

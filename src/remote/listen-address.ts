import { isIP } from 'node:net'

/**
 * Addresses as the kernel writes local addresses in /proc/net/tcp and tcp6: each 32-bit word in
 * the host's byte order (little-endian here, as on every Linux the action targets), as hex.
 */
function words(bytes: number[]): string {
  let hex = ''
  for (let at = 0; at < bytes.length; at += 4)
    hex += bytes
      .slice(at, at + 4)
      .reverse()
      .map(byte => byte.toString(16).padStart(2, '0'))
      .join('')
  return hex.toUpperCase()
}

/** The 16 bytes of an IPv6 address in text form. */
function ipv6Bytes(address: string): number[] {
  let text = address
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)?.[1]
  if (v4) {
    const [a, b, c, d] = v4.split('.').map(Number)
    text = `${text.slice(0, -v4.length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined]
  const left = head ? head.split(':') : []
  const right = tail ? tail.split(':') : []
  const groups = [...left, ...Array(8 - left.length - right.length).fill('0'), ...right]
  return groups.flatMap(group => {
    const value = parseInt(group || '0', 16)
    return [value >> 8, value & 0xff]
  })
}

/** Where a socket must be bound to take connections to `address`: exactly, and by a wildcard. */
export function listenAddresses(address: string): { exact: string[]; any: string[] } {
  const zero6 = '0'.repeat(32)
  if (isIP(address) === 4) {
    const bytes = address.split('.').map(Number)
    // A dual-stack IPv6 socket takes IPv4 connections as ::ffff:a.b.c.d.
    const mapped = words([...Array(10).fill(0), 0xff, 0xff, ...bytes])
    return { exact: [words(bytes), mapped], any: ['00000000', zero6] }
  }
  return { exact: [words(ipv6Bytes(address))], any: [zero6] }
}

/** Whether `address` is a loopback address: the host itself, whatever its other addresses. */
export function isLoopback(address: string): boolean {
  if (isIP(address) === 4) return address.startsWith('127.')
  const bytes = ipv6Bytes(address)
  const mapped = bytes.slice(0, 12).join(',') === '0,0,0,0,0,0,0,0,0,0,255,255'
  return (
    (mapped && bytes[12] === 127) || bytes.every((byte, index) => byte === (index === 15 ? 1 : 0))
  )
}

/** The same address written either way (IPv6 text has many forms). */
export function sameAddress(a: string, b: string): boolean {
  if (isIP(a) !== isIP(b) || isIP(a) === 0) return false
  return isIP(a) === 4 ? a === b : ipv6Bytes(a).join(',') === ipv6Bytes(b).join(',')
}

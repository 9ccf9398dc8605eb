import { createPrivateKey } from 'node:crypto'
// ssh2 is CommonJS: Node's ESM loader only sees its default export, not `utils`.
import ssh2, { type ParsedKey } from 'ssh2'
import { fingerprint } from '../remote/host-key.js'

export interface PrivateKey {
  /** Normalized key text handed to ssh2. */
  text: string
  type: string
  /** Fingerprint of the matching public key, safe to log. */
  publicFingerprint: string
}

const PUBLIC_KEY =
  /^(?:(?:ssh-(?:rsa|dss|ed25519)|ecdsa-sha2-nistp\d+|sk-\S+)\s+AAAA|-{4,5} ?BEGIN (?:SSH2 |RSA )?PUBLIC KEY)/

/** CRLF line ends, surrounding blank space and a missing final newline are all tolerated. */
export function normalizeKeyText(text: string): string {
  return text.replace(/\r\n?/g, '\n').trim() + '\n'
}

/** Parses `private-key`; returns the problem as text (never containing the key) when unusable. */
export function parsePrivateKey(raw: string, passphrase: string | undefined): PrivateKey | string {
  const text = normalizeKeyText(raw)
  if (text.startsWith('PuTTY-User-Key-File-')) {
    return "it is a PuTTY .ppk file; convert it with 'puttygen key.ppk -O private-openssh -o id_key' and paste id_key"
  }
  if (PUBLIC_KEY.test(text)) {
    return 'it is a public key (the .pub file); paste the private key file instead (e.g. ~/.ssh/id_ed25519, not id_ed25519.pub)'
  }
  if (!text.includes('PRIVATE KEY-----')) {
    return "it is not an OpenSSH or PEM private key (it should start with '-----BEGIN OPENSSH PRIVATE KEY-----')"
  }
  const pkcs8 = /-----BEGIN (ENCRYPTED )?PRIVATE KEY-----/.exec(text)
  if (pkcs8) return parsePkcs8(text, passphrase, Boolean(pkcs8[1]))
  const parsed = ssh2.utils.parseKey(text, passphrase)
  if (parsed instanceof Error) {
    if (/no passphrase given/i.test(parsed.message)) {
      return 'it is encrypted; set the passphrase input (from a secret)'
    }
    if (/passphrase/i.test(parsed.message)) {
      return 'it could not be decrypted with the given passphrase; check the passphrase secret'
    }
    return `it could not be read (${parsed.message}); paste the whole file, including the BEGIN and END lines`
  }
  const key: ParsedKey = Array.isArray(parsed) ? parsed[0] : parsed
  if (!key.isPrivateKey()) return 'it is a public key; paste the private key file instead'
  return { text, type: key.type, publicFingerprint: fingerprint(key.getPublicSSH()) }
}

const TO_OPENSSH =
  "convert it to the OpenSSH format with 'ssh-keygen -p -f KEYFILE' (it rewrites the file) and paste that"

/**
 * PKCS#8 (`BEGIN PRIVATE KEY`, as openssl and `ssh-keygen -m PKCS8` write it), which ssh2 does
 * not read: RSA and ECDSA keys are re-encoded as the PEM ssh2 reads (PKCS#1, SEC1); other types
 * get the conversion to name.
 */
function parsePkcs8(
  text: string,
  passphrase: string | undefined,
  encrypted: boolean
): PrivateKey | string {
  if (encrypted && !passphrase) return 'it is encrypted; set the passphrase input (from a secret)'
  let key
  try {
    key = createPrivateKey({ key: text, format: 'pem', passphrase })
  } catch {
    return encrypted
      ? 'it could not be decrypted with the given passphrase; check the passphrase secret'
      : 'it is a PKCS#8 key (BEGIN PRIVATE KEY) that could not be read; paste the whole file, including the BEGIN and END lines'
  }
  const pem =
    key.asymmetricKeyType === 'rsa'
      ? key.export({ type: 'pkcs1', format: 'pem' })
      : key.asymmetricKeyType === 'ec'
        ? key.export({ type: 'sec1', format: 'pem' })
        : undefined
  if (pem === undefined) {
    return `it is a PKCS#8 ${key.asymmetricKeyType ?? ''} key (BEGIN PRIVATE KEY), which the SSH library cannot use; ${TO_OPENSSH}`
  }
  const converted = ssh2.utils.parseKey(pem.toString())
  if (converted instanceof Error) {
    return `it is a PKCS#8 ${key.asymmetricKeyType} key the SSH library cannot use (${converted.message}); ${TO_OPENSSH}`
  }
  const parsed: ParsedKey = Array.isArray(converted) ? converted[0] : converted
  return {
    text: pem.toString(),
    type: parsed.type,
    publicFingerprint: fingerprint(parsed.getPublicSSH())
  }
}

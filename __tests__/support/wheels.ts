/**
 * Python wheels made in the test (no package index is reachable here): a wheel is a zip with the
 * module, METADATA, WHEEL and RECORD. pip installs them with PIP_NO_INDEX=1 and PIP_FIND_LINKS.
 */
import { execFileSync } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const BUILD_WHEEL = `
import base64, hashlib, sys, zipfile
directory, name, version = sys.argv[1:4]
files = {
    f"{name}/__init__.py": f'VERSION = "{version}"\\n',
    f"{name}-{version}.dist-info/METADATA": f"Metadata-Version: 2.1\\nName: {name}\\nVersion: {version}\\n",
    f"{name}-{version}.dist-info/WHEEL": "Wheel-Version: 1.0\\nGenerator: vsd-tests\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
}
record = f"{name}-{version}.dist-info/RECORD"
lines = []
for path, text in files.items():
    digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
    lines.append(f"{path},sha256={digest},{len(text.encode())}")
lines.append(f"{record},,")
with zipfile.ZipFile(f"{directory}/{name}-{version}-py3-none-any.whl", "w") as wheel:
    for path, text in files.items():
        wheel.writestr(path, text)
    wheel.writestr(record, "\\n".join(lines) + "\\n")
`

/** Writes `<dir>/<name>-<version>-py3-none-any.whl`: a package whose VERSION is `version`. */
function buildWheel(dir: string, name: string, version: string): void {
  mkdirSync(dir, { recursive: true })
  execFileSync('python3', ['-c', BUILD_WHEEL, dir, name, version])
}

/**
 * A directory of wheels of package `name`, one per version, that every user can read: the test
 * sshd's deploy user installs from it (mkdtemp alone makes it root's only).
 */
export function wheelhouse(name: string, ...versions: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'vsd-wheels-'))
  chmodSync(dir, 0o755)
  for (const version of versions) buildWheel(dir, name, version)
  return dir
}

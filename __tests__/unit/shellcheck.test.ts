/**
 * Host-side shell is code too: every script the action sends, rendered with sample values (spaces,
 * quotes and `$(…)` in them), must pass shellcheck as POSIX sh.
 */
import { describe, expect, it } from '@jest/globals'
import { spawnSync } from 'node:child_process'
import { remoteLayout } from '../../src/layout.js'
import { clearBytecodeScript } from '../../src/phases/bytecode.js'
import { toolCheckScript } from '../../src/phases/connect.js'
import { acquireLockScript, lockOwner, releaseLockScript } from '../../src/phases/lock.js'
import { importCheckScript, linkSharedScript, stampScript } from '../../src/phases/prepare.js'
import { pruneScript } from '../../src/phases/prune.js'
import { markBadScript } from '../../src/phases/rollback.js'
import { detachedStartScript, foregroundStartScript } from '../../src/phases/start.js'
import { stopScript, waitForExitScript } from '../../src/phases/stop.js'
import { listTreesScript, releasesLogScript, switchCurrentScript } from '../../src/phases/switch.js'
import { inspectScript, tarCopyScript, uploadScript } from '../../src/phases/upload.js'
import { diagnosticsScript, serviceIdentityScript } from '../../src/phases/verify.js'
import { sh, type ShellCode } from '../../src/shell.js'

const target = "/srv/my app/it's $(here)"
const layout = remoteLayout(target)
const sha = '0123456789abcdef0123456789abcdef01234567'
const release = '20261125T101500Z-0123456'
const environment = sh`unset X
export DEPLOY_TARGET=${target}`
const command = 'python -m app serve --name "a b" && echo $HOME'

const scripts: Record<string, ShellCode> = {
  'connect: tool check': toolCheckScript(),
  'lock: acquire': acquireLockScript(layout, lockOwner(sha), 30),
  'lock: release': releaseLockScript(layout.lockDir, 'token'),
  'upload: inspect (releases)': inspectScript(layout, 'releases', 'REVISION'),
  'upload: inspect (in-place)': inspectScript(layout, 'in-place', 'REVISION'),
  'upload: receive (releases)': uploadScript(layout, 'releases', 'REVISION'),
  'upload: receive (in-place)': uploadScript(layout, 'in-place', 'REVISION'),
  'upload: tar copy': tarCopyScript(`${target}/a`, `${target}/b`, `${target}/list`),
  'prepare: stamp': stampScript(`${target}/releases/${release}`, 'REVISION', sha),
  'prepare: shared paths': linkSharedScript(`${target}/releases/${release}`, layout.sharedDir, [
    'data',
    'logs/app'
  ]),
  'prepare: bytecode': clearBytecodeScript(target, [layout.deployDir]),
  'prepare: import check': importCheckScript(target, environment, 'python3', 'app.server'),
  'stop: signals only': stopScript({ target, stateFile: layout.stateFile, pattern: 'app serve' }),
  'stop: with stop-command': stopScript({
    target,
    stateFile: layout.stateFile,
    pattern: '',
    stopCommand: { live: layout.current, environment, command }
  }),
  'wait-for-exit': waitForExitScript({
    target,
    stateFile: layout.stateFile,
    pattern: 'app serve',
    groups: ['123', '456'],
    ports: [7861, 8501],
    timeoutSeconds: 30,
    killAfterTimeout: true
  }),
  'switch: current': switchCurrentScript(layout, release, 'token'),
  'switch: releases.log': releasesLogScript(layout, { event: 'deploy', sha }),
  'switch: in-place listing': listTreesScript(`${layout.deployDir}/staging`, target, ['data']),
  'start: detached': detachedStartScript({
    live: layout.current,
    environment,
    command,
    log: layout.startLog,
    target,
    stateFile: layout.stateFile,
    release,
    sha
  }),
  'start: foreground': foregroundStartScript(layout.current, environment, command),
  'verify: identity': serviceIdentityScript({
    target,
    stateFile: layout.stateFile,
    ports: [7861, 8501],
    mark: 12345,
    release,
    sha
  }),
  'verify: diagnostics': diagnosticsScript(layout.startLog, 1024, [7861]),
  'rollback: mark bad': markBadScript(layout, release, "it's broken", 'REVISION'),
  prune: pruneScript(layout, [release])
}

describe('host-side scripts pass shellcheck (POSIX sh)', () => {
  it.each(Object.entries(scripts))('%s', (_name, script) => {
    // SC2016: awk programs are single-quoted on purpose. SC2012: ls lists only names the action
    // (releases) or the kernel (/proc) made, never arbitrary file names.
    const result = spawnSync('shellcheck', ['--shell=sh', '--exclude=SC2016,SC2012', '-'], {
      input: script.text,
      encoding: 'utf8'
    })
    if (result.error)
      throw new Error(
        `shellcheck is needed: apt-get install -y shellcheck (${result.error.message})`
      )
    expect(result.stdout).toBe('')
    expect(result.status).toBe(0)
  })
})

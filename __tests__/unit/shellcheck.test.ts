/**
 * Host-side shell is code too: every script the action sends, rendered with sample values (spaces,
 * quotes and `$(…)` in them), must pass shellcheck as POSIX sh.
 */
import { describe, expect, it } from '@jest/globals'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { remoteLayout } from '../../src/remote/layout.js'
import { clearBytecodeScript } from '../../src/commands/bytecode.js'
import { toolCheckScript } from '../../src/commands/connect.js'
import {
  acquireLockScript,
  heartbeatScript,
  lockFenceScript,
  releaseLockScript
} from '../../src/commands/lock.js'
import { lockOwner } from '../../src/tasks/lock.js'
import {
  importCheckScript,
  linkSharedScript,
  releaseCommandScript,
  stampScript
} from '../../src/commands/prepare.js'
import { discardReleaseScript, pruneScript, pruneVenvsScript } from '../../src/commands/prune.js'
import { venvScript } from '../../src/commands/venv.js'
import { markBadScript, switchBackScript } from '../../src/commands/fallback.js'
import { detachedStartBody, foregroundStartBody } from '../../src/commands/start.js'
import { stopBody, waitForExitBody } from '../../src/commands/stop.js'
import { hostLibrary } from '../../src/remote/host-library.js'
import { hostNowScript } from '../../src/commands/restart.js'
import { awaitStepScript, followScript, hostStepScript } from '../../src/remote/host-step.js'
import {
  listTreesScript,
  releasesLogScript,
  switchBody,
  switchCurrentScript
} from '../../src/commands/switch.js'
import { inspectScript, uploadScript } from '../../src/commands/upload.js'
import { envFileScript } from '../../src/commands/env-file.js'
import { diagnosticsScript, serviceIdentityScript } from '../../src/commands/verify.js'
import { joinCode, MAX_ENVIRONMENT_SCRIPT, sh, ShellCode } from '../../src/remote/shell.js'
import { EXEC_REQUEST, scriptLoader } from '../../src/remote/remote.js'
import {
  armScript,
  decideScript,
  launchWatchdogScript,
  watchdogScript
} from '../../src/commands/watchdog.js'
import { newDeployContext } from '../../src/model/context.js'
import { getSettings } from '../../src/inputs/settings.js'
import { inputReader, sourceTree } from '../support/fixtures.js'

const target = "/srv/my app/it's $(here)"
const layout = remoteLayout(target)
const sha = '0123456789abcdef0123456789abcdef01234567'
const release = '20261125T101500Z-0123456'
const environment = sh`unset X
export DEPLOY_TARGET=${target}`
const command = 'python -m app serve --name "a b" && echo $HOME'

/** A deploy of the sample target, for the scripts built from a whole context (the watchdog's). */
const keyDir = mkdtempSync(join(tmpdir(), 'vsd-key-'))
execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(keyDir, 'key')])
const contextWith = (inputs: Record<string, string> = {}) =>
  newDeployContext({
    settings: getSettings(
      inputReader({
        host: 'example.com',
        username: 'deploy',
        'private-key': readFileSync(join(keyDir, 'key'), 'utf8'),
        source: sourceTree(),
        target,
        'start-command': command,
        'stop-command': 'pkill -f "app serve"',
        'process-match': 'app serve',
        ports: '7861 8501',
        'version-url': 'http://127.0.0.1:7861/version',
        env: "GREETING=it's $(here)",
        sha,
        ...inputs
      })
    ),
    sha,
    label: 'example.com',
    session: undefined as never,
    layout,
    report: { host: 'example.com', result: 'failed', rolledBack: false, phases: [] },
    run: "https://github.com/o/r/actions/runs/1 it's",
    lockToken: 'token'
  })
const ctx = contextWith()
const inPlace = contextWith({ strategy: 'in-place', 'shared-paths': "data\nit's logs" })
const fallback = { release: '20261123T000000Z-0123456', sha, how: 'live' as const }

const scripts: Record<string, ShellCode> = {
  'watchdog: arm': armScript(ctx, fallback),
  'watchdog: the watchdog, with the fallback restart it runs': watchdogScript(ctx, fallback),
  'watchdog: launch (end of start)': joinCode([hostLibrary(), launchWatchdogScript(ctx)]),
  'watchdog: confirm': decideScript(layout, 'token', 'confirmed', release),
  'watchdog: rollback claim': decideScript(layout, 'token', 'rollback', release),
  'connect: tool check': toolCheckScript(),
  'lock: acquire': acquireLockScript(
    layout,
    lockOwner(sha, 'https://github.com/o/r/actions/runs/1'),
    30
  ),
  'lock: release': releaseLockScript({ ...layout, token: 'token' }),
  "lock: release, with the run's release": releaseLockScript({
    ...layout,
    token: 'token',
    release
  }),
  'lock: heartbeat': heartbeatScript(layout, 'token'),
  'lock: fence (first in the restart step)': hostStepScript(
    [{ phase: 'stop', body: lockFenceScript(layout, 'token') }],
    sh``
  ).script,
  'upload: inspect (releases)': inspectScript(layout, 'releases', 'REVISION'),
  'upload: inspect (in-place)': inspectScript(layout, 'in-place', 'REVISION'),
  'upload: receive (releases)': uploadScript(layout, 'releases', 'REVISION', 'tok'),
  'upload: receive (in-place)': uploadScript(layout, 'in-place', 'REVISION', 'tok'),
  'prepare: stamp': stampScript(`${target}/releases/${release}`, 'REVISION', sha),
  'prepare: shared paths': linkSharedScript(`${target}/releases/${release}`, layout.sharedDir, [
    'data',
    'logs/app'
  ]),
  'prepare: bytecode': clearBytecodeScript(target, [layout.deployDir]),
  'prepare: import check': importCheckScript(target, environment, 'python3', 'app.server'),
  'restart: stop, wait-for-exit, switch, start as one host step': hostStepScript(
    [
      {
        phase: 'stop',
        body: stopBody({
          target,
          stateFile: layout.stateFile,
          pattern: 'app serve',
          stopCommand: { live: layout.current, environment, command }
        })
      },
      {
        phase: 'wait-for-exit',
        body: waitForExitBody({
          target,
          holderPidFile: '.deploy/holder/pid',
          pattern: 'app serve',
          ports: [7861, 8501],
          timeoutSeconds: 30,
          killAfterTimeout: true
        })
      },
      { phase: 'switch', body: switchCurrentScript(layout, release, 'token') },
      {
        phase: 'start',
        body: detachedStartBody({
          live: layout.current,
          environment,
          command,
          log: layout.startLog,
          target,
          stateFile: layout.stateFile,
          release,
          sha
        })
      }
    ],
    sh`cd -- ${target} || exit 1`
  ).script,
  'restart: follower': joinCode([
    hostLibrary(),
    followScript(layout.restartLog, hostStepScript([], sh`true`))
  ]),
  'restart: await a step (lock release, post)': awaitStepScript(layout.restartLog, 60),
  'restart: await a step that may not have started': awaitStepScript(
    layout.restartLog,
    60,
    '0123456789ab'
  ),
  'restart: what serves after a killed step': hostNowScript(layout, [8000, 8501]),
  'switch: current': switchCurrentScript(layout, release, 'token'),
  'switch: releases.log': releasesLogScript(layout, { event: 'deploy', sha }),
  'switch: in-place listing': listTreesScript(
    `${layout.deployDir}/staging`,
    `${layout.deployDir}/tree`,
    target,
    ['data']
  ),
  'start: foreground (host-step body)': hostStepScript(
    [{ phase: 'start', body: foregroundStartBody(layout.current, { environment, command }) }],
    sh``
  ).script,
  'verify: identity': serviceIdentityScript({
    target,
    stateFile: layout.stateFile,
    ports: [7861, 8501],
    mark: 12345,
    release,
    sha
  }),
  'verify: diagnostics': diagnosticsScript(
    layout.startLog,
    '=== 2026-11-25T10:15:00Z starting release r (s) [42]',
    [7861]
  ),
  'rollback: mark bad': markBadScript(
    layout,
    release,
    "it's broken",
    '20261123T000000Z-0123456',
    'REVISION'
  ),
  prune: pruneScript(layout, [release]),
  'prune: a failed release': discardReleaseScript(layout, release),
  'prepare: env file': envFileScript(`${target}/shared`, "config/it's.env"),
  'remote: the exec request every command starts with': new ShellCode(EXEC_REQUEST),
  'remote: the loader, first line on stdin': new ShellCode(scriptLoader(3)),
  'prepare: prepare-command': releaseCommandScript(ctx, command),
  'switch: the new release (releases)': switchBody(ctx, 'token'),
  'switch: the in-place sync': switchBody(inPlace, 'token'),
  'rollback: switch back': switchBackScript(ctx, fallback, "start: it's broken", 'runner'),
  'prune: venvs': pruneVenvsScript(layout),
  'prepare: venv (releases)': venvScript({
    python: 'python3',
    target,
    venvs: `${layout.deployDir}/venvs`,
    hash: '0123456789abcdef',
    tree: `${target}/releases/${release}`,
    environment,
    install: "pip install -r 'requirements.txt'"
  }),
  'prepare: venv (in-place)': venvScript({
    python: '/opt/py 3/bin/python',
    target,
    venvs: `${layout.deployDir}/venvs`,
    hash: '0123456789abcdef',
    tree: `${layout.deployDir}/staging`,
    liveLink: `${target}/.venv`,
    environment,
    install: 'uv pip install -r pyproject.toml'
  })
}

describe('host-side scripts pass shellcheck (POSIX sh)', () => {
  it.each(Object.entries(scripts))('%s', (_name, script) => {
    // SC2016: awk programs are single-quoted on purpose. SC2012: ls lists only names the action
    // (releases) or the kernel (/proc) made. SC2030/SC2031: user commands' exports are scoped to a
    // subshell on purpose. SC2089/SC2090: a sample value holding a quote is data, not quoting.
    // SC1003: a script quoted inside another (the watchdog's restart step) holds '\'' on purpose.
    const result = spawnSync(
      'shellcheck',
      ['--shell=sh', '--exclude=SC1003,SC2016,SC2012,SC2030,SC2031,SC2089,SC2090', '-'],
      {
        input: script.text,
        encoding: 'utf8'
      }
    )
    if (result.error)
      throw new Error(
        `shellcheck is needed: apt-get install -y shellcheck (${result.error.message})`
      )
    expect(result.stdout).toBe('')
    expect(result.status).toBe(0)
  })
})

it("leaves the watchdog's script room in the one environment variable it runs from", () => {
  // The fallback's restart step goes into it twice quoted (follow.sh's input, then the watchdog's):
  // half the limit is left for long start-, stop-commands and env.
  const size = Buffer.byteLength(watchdogScript(ctx, fallback).text)
  expect(size).toBeLessThan(MAX_ENVIRONMENT_SCRIPT / 2)
})

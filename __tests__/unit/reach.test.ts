/**
 * Reaching hosts people really have: proxy-command's tokens quoted, the connect retries' backoff,
 * the env file's quoting read back by python-dotenv's and systemd's rules, and the sudoers line a
 * command that sudo stopped for a password gets.
 */
import { describe, expect, it } from '@jest/globals'
import { spawnSync } from 'node:child_process'
import { connectBackoffSeconds } from '../../src/tasks/connect.js'
import { envFileText } from '../../src/tasks/env-file.js'
import { expandProxyCommand } from '../../src/remote/proxy-command.js'
import { sudoHint } from '../../src/tasks/sudo.js'
import { parseDotenv, parseSystemdEnvironmentFile } from '../support/env-parsers.js'

describe('proxy-command', () => {
  it('expands %h, %p, %r and %%, each value quoted for the runner shell', () => {
    const address = { host: "h$(touch x)'", port: 2222, username: 'de ploy' }
    const expanded = expandProxyCommand('ssh -W %h:%p -l %r bastion # 100%%', address)
    expect(expanded).toBe(`ssh -W 'h$(touch x)'\\''':2222 -l 'de ploy' bastion # 100%`)
    const echoed = spawnSync('/bin/sh', ['-c', expandProxyCommand('printf %s %h', address)], {
      encoding: 'utf8'
    })
    expect(echoed.stdout).toBe(address.host)
  })
})

describe('connect-retries', () => {
  it('backs off 1, 2, 4, 8, 8 s', () => {
    expect([1, 2, 3, 4, 5].map(connectBackoffSeconds)).toEqual([1, 2, 4, 8, 8])
  })
})

describe('env-file', () => {
  it('is read back the same by python-dotenv and by systemd EnvironmentFile=', () => {
    const env: [string, string][] = [
      ['PLAIN', 'value'],
      ['SPACES', 'value with spaces'],
      ['QUOTE', `it's "quoted" \\ here`],
      ['DOLLAR', 'a $HOME and ${HOME} stay'],
      ['EMPTY', ''],
      ['HASH', 'a # is not a comment']
    ]
    const text = envFileText(env)
    expect(parseDotenv(text)).toEqual(Object.fromEntries(env))
    expect(parseSystemdEnvironmentFile(text)).toEqual(Object.fromEntries(env))
  })
})

describe('sudo', () => {
  it('names the sudoers line that allows exactly the command without a password', () => {
    expect(
      sudoHint('sudo: a password is required\n', 'sudo -n systemctl restart app', 'deploy')
    ).toBe(
      ' sudo asked for a password, which a deploy cannot type: allow the deploy user exactly this command without one, with a line in /etc/sudoers.d/deploy (edit it with visudo -f): deploy ALL=(root) NOPASSWD: /usr/bin/systemctl restart app (check the path with command -v systemctl), and call it as sudo -n so it fails at once rather than wait for a password.'
    )
    expect(sudoHint('[sudo] password for deploy:', 'cd x && sudo /bin/kill 1', 'deploy')).toContain(
      'NOPASSWD: /bin/kill 1, and call'
    )
    expect(sudoHint('Permission denied', 'sudo -n systemctl restart app', 'deploy')).toBe('')
  })
})

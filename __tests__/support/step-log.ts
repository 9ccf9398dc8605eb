/**
 * Restart logs as the host step writes them (host-step.ts, protocol.ts), for the post step's tests:
 * the step line, its PID, each phase with its lines, then how it ended.
 */
import { stepLine } from '../../src/remote/protocol.js'

export const STEP_KEY = '0123456789ab'

export type PhaseLines = [string, string[]]

/** A restart log: the step line, then `phases` (each with its lines), then how it ended. */
export function restartLog(phases: PhaseLines[], end: string[], key = STEP_KEY): string {
  return [
    stepLine(key),
    `@@${key} pid 4242`,
    ...phases.flatMap(([phase, lines]) => [`@@${key} phase ${phase} 100.0`, ...lines]),
    ...end
  ].join('\n')
}

/** stop → wait-for-exit → switch to `release` → start, each as it prints when it goes well. */
export function upToStart(release: string, key = STEP_KEY): PhaseLines[] {
  return [
    [
      'stop',
      [`@@${key} data mark 99`, 'SIGTERM to 77 (python3 -m app): recorded by the last deploy']
    ],
    ['wait-for-exit', ['old service gone after 0 s']],
    ['switch', [`@@${key} data release ${release}`, `/srv/app/current -> releases/${release}`]],
    ['start', ['Started python3 -m app as process group 80']]
  ]
}

/** How a restart toward `release` ended on the host, as the post step finds its log. */
export function stepEnding(
  release: string,
  how: 'finished' | 'failed-start' | 'failed-wait' | 'killed' | 'unfinished',
  key = STEP_KEY
): string {
  const phases = upToStart(release, key)
  switch (how) {
    case 'finished':
      return restartLog(phases, [`@@${key} exit 0 101.5`], key)
    case 'failed-start':
      return restartLog(
        phases,
        [`@@${key} error the start command exited with code 1 within 1 s`, `@@${key} exit 4 101`],
        key
      )
    case 'failed-wait':
      return restartLog(
        phases.slice(0, 2),
        [`@@${key} error pid 77 still running: python3 -m app`, `@@${key} exit 3 130`],
        key
      )
    case 'killed':
      return restartLog(phases.slice(0, 2), [`@@${key} died 137`], key)
    case 'unfinished':
      return restartLog(phases.slice(0, 1), [], key)
  }
}

/** Overlap (README, "Overlap"): the start beside the old service, marked before its switch. */
export function overlapStart(
  release: string,
  how: 'finished' | 'failed-start',
  key = STEP_KEY
): string {
  const phases: PhaseLines[] = [
    [
      'switch',
      [
        `@@${key} data mark 99`,
        `@@${key} data release ${release}`,
        `/srv/app/current -> releases/${release}`
      ]
    ],
    ['start', ['Started python3 -m app as process group 80']]
  ]
  return how === 'finished'
    ? restartLog(phases, [`@@${key} exit 0 101.5`], key)
    : restartLog(
        phases,
        [`@@${key} error the start command exited with code 1 within 1 s`, `@@${key} exit 4 101`],
        key
      )
}

/** Overlap: the old service's retirement, which names the release in its stop. */
export function retirement(release: string, key = STEP_KEY): string {
  return restartLog(
    [
      [
        'stop',
        [
          `@@${key} data release ${release}`,
          `@@${key} data mark 99`,
          'SIGTERM to 77 (python3 -m app): recorded by the last deploy'
        ]
      ],
      ['wait-for-exit', ['old service gone after 0 s', `@@${key} data gone 100.5`]]
    ],
    [`@@${key} exit 0 101.5`],
    key
  )
}

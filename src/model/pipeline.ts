import { phaseBudgets } from './budgets.js'
import { releaseName, remoteLayout, type RemoteLayout } from '../remote/layout.js'
import type { Settings } from '../inputs/settings.js'
import { ALWAYS_EXCLUDED } from '../source/source-tree.js'
import { strategyOf } from './strategy.js'

/** What a phase's line of the dry-run plan is built from. */
interface PlanContext {
  settings: Settings
  label: string
  layout: RemoteLayout
  release: string
  releaseDir: string
  sha: string
}

interface Phase {
  readonly name: string
  /** Which of phaseBudgets' limits the phase runs under (the host step's phases share one). */
  readonly budget: keyof ReturnType<typeof phaseBudgets>
  /** Part of the restart's one host step (restart.ts) rather than a phase of its own. */
  readonly hostStep?: true
  /** Runs only after a failure past the switch. */
  readonly onFailure?: true
  /** What the phase would do, for the dry run. */
  plan(at: PlanContext): string
}

const orNone = (value: string | undefined): string => value ?? '(none)'
const releases = (settings: Settings) => strategyOf(settings).keepsReleases

/**
 * The phases, in the order they run: their names (PhaseName), their time limits, which of them
 * form the restart's host step, and their lines of the dry-run plan all come from this list. Each
 * operation's steps (operations.ts) run them (docs/architecture.md, "One host's deploy").
 */
export const PIPELINE = [
  { name: 'connect', budget: 'connect', plan: at => `${at.label}, tools checked` },
  {
    name: 'lock',
    budget: 'lock',
    plan: at => `${at.layout.lockDir} (wait up to ${at.settings.lockTimeoutSeconds} s)`
  },
  {
    name: 'choose',
    budget: 'connect',
    plan: ({ settings, layout }) =>
      settings.operation === 'rollback'
        ? `the release to make live: ${settings.rollbackTo ? `'${settings.rollbackTo}' (a release name or a commit)` : 'the newest verified release older than the live one'}`
        : `what ${layout.current} names, and its ${settings.stampFile}`
  },
  {
    name: 'upload',
    budget: 'upload',
    plan: at =>
      `${at.settings.source} -> ${at.releaseDir} (tar stream, changed files only; excluding ${[...ALWAYS_EXCLUDED, ...at.settings.exclude].join(', ')})`
  },
  {
    name: 'prepare',
    budget: 'prepare',
    plan: ({ settings, sha }) =>
      `${settings.stampFile}=${sha}; shared paths: ${settings.sharedPaths.join(', ') || '(none)'}; ` +
      `clear pycache: ${settings.clearPycache}; prepare-command: ${orNone(settings.prepareCommand)}; ` +
      `import check: ${orNone(settings.pythonImportCheck)}`
  },
  {
    name: 'migrate',
    budget: 'prepare',
    plan: ({ settings }) =>
      settings.migrateCommand
        ? `'${settings.migrateCommand}' in the new release, before anything stops`
        : 'nothing to run (migrate-command)'
  },
  {
    name: 'stop',
    budget: 'restart',
    hostStep: true,
    plan: ({ settings, layout }) =>
      [
        settings.stopCommand ? `run '${settings.stopCommand}', then` : '',
        `SIGTERM processes carrying DEPLOY_TARGET=${layout.target} and those recorded in ${layout.stateFile}`,
        settings.processMatch ? `and processes matching '${settings.processMatch}'` : ''
      ]
        .join(' ')
        .trim()
  },
  {
    name: 'wait-for-exit',
    budget: 'restart',
    hostStep: true,
    plan: ({ settings }) =>
      `up to ${settings.stopTimeoutSeconds} s; ports free: ${settings.ports.join(', ') || '(none)'}` +
      (settings.killAfterTimeout ? '; then SIGKILL' : '')
  },
  {
    name: 'switch',
    budget: 'restart',
    hostStep: true,
    plan: at =>
      releases(at.settings)
        ? `${at.layout.current} -> releases/${at.release}`
        : `sync into ${at.layout.target}`
  },
  {
    name: 'start',
    budget: 'restart',
    hostStep: true,
    plan: ({ settings, layout }) =>
      `'${settings.startCommand}'` +
      (settings.detach ? ` detached, output to ${layout.startLog}` : ' in the foreground')
  },
  {
    name: 'verify',
    budget: 'verify',
    plan: ({ settings, sha }) =>
      `${settings.versionUrl.href} from the ${settings.versionCheckFrom} reports ${sha.slice(0, 12)}` +
      ` (within ${settings.versionTimeoutSeconds} s, stable for ${settings.stableForSeconds} s)`
  },
  {
    name: 'rollback',
    budget: 'rollback',
    onFailure: true,
    plan: ({ settings }) =>
      releases(settings) && settings.rollbackOnFailure
        ? 'to the previous good release on failure'
        : 'off'
  },
  {
    name: 'prune',
    budget: 'prune',
    plan: ({ settings }) =>
      releases(settings) ? `keep ${settings.keepReleases} releases` : 'nothing to prune (in-place)'
  }
] as const satisfies readonly Phase[]

/** The phases of a deploy, and `plan`, the dry run's own. */
export type PhaseName = (typeof PIPELINE)[number]['name'] | 'plan'

/** The restart's host step: these phases, in this order, as one detached command on the host. */
export const HOST_STEP_PHASES = PIPELINE.filter(phase => 'hostStep' in phase).map(
  phase => phase.name
)

/** How long `phase` may run, in seconds. */
export function phaseBudget(settings: Settings, phase: Exclude<PhaseName, 'plan'>): number {
  const budget = PIPELINE.find(entry => entry.name === phase)?.budget ?? 'restart'
  return phaseBudgets(settings)[budget]
}

/**
 * The `phases` an operation on one host would run (operationPhases), in PIPELINE's order, with the
 * settings each uses; printed on dry runs.
 */
export function describePlan(
  settings: Settings,
  phases: readonly PhaseName[],
  host: { label: string; target: string; startLog?: string },
  sha: string,
  now: Date
): string[] {
  const layout = remoteLayout(host.target, host.startLog)
  // A deploy makes its release; the other operations choose one on the host.
  const release = settings.operation === 'deploy' ? releaseName(now, sha) : '(the chosen release)'
  const releaseDir = strategyOf(settings).buildDir(layout, release)
  const at: PlanContext = { settings, label: host.label, layout, release, releaseDir, sha }
  const steps = PIPELINE.filter(phase => phases.includes(phase.name))
  const width = Math.max(...steps.map(phase => phase.name.length))
  return steps.map(
    (phase, index) =>
      `${String(index + 1).padStart(2)}. ${phase.name.padEnd(width)}  ${phase.plan(at)}`
  )
}

import { setTimeout as sleep } from 'node:timers/promises';
import type { Behaviour } from '@cbsuite/testkit/behaviour.js';
import { pct } from './format.js';
import type { Profile } from './profile.js';
import type { StepKind } from './timeline.js';

/** What the script acts on: the instances, and the service key's config on every client node. */
export interface ScenarioContext {
  readonly instances: {
    readonly addresses: readonly string[];
    kill(address: string): Promise<void>;
    respawn(address: string): Promise<void>;
    setBehaviour(b: Behaviour): Promise<void>;
  };
  readonly serviceKey: string;
  /** The `errRate` in force for the service key. */
  serviceErrRate(): number;
  /** Changes it at run time: `updateServiceCBConfig`, or in a fleet `publishServiceCBConfig` on one node. */
  setServiceErrRate(errRate: number): void | Promise<void>;
  /** In fleet mode: how many client nodes call, and the node that publishes the config. */
  readonly fleet?: { readonly nodes: number; readonly publisher: string };
}

/** A step as it happened. */
export interface StepResult {
  readonly text: string;
  /** The instance it concerns, if one. */
  readonly target?: string;
}

/** One step of the script: at `atMs` it does something and begins a phase. */
export interface ScriptStep {
  readonly atMs: number;
  readonly kind: StepKind;
  readonly phase: { readonly name: string; readonly label: string };
  /**
   * Told, and its phase begun, once the step is done (a respawn: the
   * instance is down until it listens); otherwise as it starts (a kill: the
   * calls it cuts belong to the new phase).
   */
  readonly whenDone?: true;
  /** What the step does, in one line, and the instance it concerns; read before it runs. */
  describe(ctx: ScenarioContext): StepResult;
  run(ctx: ScenarioContext): Promise<void>;
}

/**
 * The demo's trouble, in order: an instance dies and comes back; later the
 * whole service turns slow and failing under the breaker's threshold; the
 * threshold is lowered at run time and the breaker opens; the service
 * recovers and the breaker closes.
 */
export function script(p: Profile): ScriptStep[] {
  const victim = (ctx: ScenarioContext) => ctx.instances.addresses[1] ?? ctx.instances.addresses[0] ?? '';
  const d = p.degraded;
  return [
    {
      atMs: 0,
      kind: 'start',
      phase: { name: 'steady', label: 'steady load' },
      describe: (ctx) => ({
        text:
          `${ctx.instances.addresses.length} healthy instances answering in ${p.normal.delayMs} ms; ` +
          (ctx.fleet === undefined
            ? `the client calls Say about ${p.load.ratePerSec}/s through CBSuite`
            : `${ctx.fleet.nodes} client processes call Say about ${Math.round(p.load.ratePerSec / ctx.fleet.nodes)}/s ` +
              `each (${p.load.ratePerSec}/s in all) through CBSuite, sharing their breakers through Redis`) +
          ' (a service breaker per method, an instance breaker per address)',
      }),
      run: async () => undefined,
    },
    {
      atMs: p.at.kill,
      kind: 'kill',
      phase: { name: 'instance-down', label: 'instance down' },
      describe: (ctx) => ({
        target: victim(ctx),
        text:
          `instance ${victim(ctx)} killed (SIGKILL): its calls in flight are cut; Say is idempotent, ` +
          'so the suite retries them on another instance and the caller should see no failure',
      }),
      run: (ctx) => ctx.instances.kill(victim(ctx)),
    },
    {
      atMs: p.at.respawn,
      kind: 'respawn',
      phase: { name: 'instance-back', label: 'instance back' },
      whenDone: true,
      describe: (ctx) => ({
        target: victim(ctx),
        text: `instance ${victim(ctx)} respawned on the same port: once its breaker has cooled, a probe call goes to it`,
      }),
      run: (ctx) => ctx.instances.respawn(victim(ctx)),
    },
    {
      atMs: p.at.degrade,
      kind: 'degrade',
      phase: { name: 'degraded', label: 'service degraded' },
      describe: (ctx) => ({
        text:
          `the whole service turns slow and failing: every instance answers in ${d.delayMs} ms and fails ` +
          `${pct(d.failRate, 0)} of calls with ${d.code}; that is under the service breaker's ` +
          `${pct(ctx.serviceErrRate(), 0)} threshold, so it stays CLOSED and callers see every failure ` +
          `(instance breakers ignore ${d.code}: no single instance is at fault)`,
      }),
      run: (ctx) => ctx.instances.setBehaviour(d),
    },
    {
      atMs: p.at.config,
      kind: 'config',
      phase: { name: 'threshold-lowered', label: 'threshold lowered' },
      describe: (ctx) => ({
        text:
          ctx.fleet === undefined
            ? `updateServiceCBConfig('${ctx.serviceKey}', { errRate: ${p.errRate.after} }) at run time: ` +
              `errRate ${ctx.serviceErrRate()} → ${p.errRate.after}; the window's failures now exceed it`
            : `publishServiceCBConfig('${ctx.serviceKey}', { errRate: ${p.errRate.after} }) on ${ctx.fleet.publisher} ` +
              `at run time: errRate ${ctx.serviceErrRate()} → ${p.errRate.after} for the whole fleet (validated and ` +
              "applied there, stored in Redis and published to the other nodes); the fleet window's failures now exceed it",
      }),
      run: async (ctx) => ctx.setServiceErrRate(p.errRate.after),
    },
    {
      atMs: p.at.recover,
      kind: 'recover',
      phase: { name: 'recovered', label: 'service recovered' },
      describe: () => ({
        text: `the service recovers: every instance answers in ${p.normal.delayMs} ms again; the breaker's next probes will succeed`,
      }),
      run: (ctx) => ctx.instances.setBehaviour(p.normal),
    },
  ];
}

/**
 * Runs `steps` at their times, then waits for the end of the run. `onStep`
 * hears each step when it happens (see {@link ScriptStep.whenDone}), with the
 * time. Stops early when `signal` aborts.
 */
export async function runScenario(
  steps: readonly ScriptStep[],
  ctx: ScenarioContext,
  durationMs: number,
  hooks: {
    readonly now: () => number;
    readonly signal: AbortSignal;
    readonly onStep: (step: ScriptStep, result: StepResult, atMs: number) => void;
  },
): Promise<void> {
  // Timers may fire a millisecond early: sleep again until the time has come.
  const until = async (atMs: number) => {
    for (let wait = atMs - hooks.now(); wait > 0 && !hooks.signal.aborted; wait = atMs - hooks.now()) {
      await sleep(wait, undefined, { signal: hooks.signal }).catch(() => undefined);
    }
  };
  // A step told when done (a respawn, which waits for a process to start)
  // runs beside the schedule: on a busy machine it may take seconds, and the
  // steps after it keep their times.
  const running: Promise<void>[] = [];
  let failed: { error: unknown } | undefined;
  for (const step of steps) {
    await until(step.atMs);
    if (hooks.signal.aborted) break;
    const result = step.describe(ctx);
    if (step.whenDone) {
      running.push(
        step.run(ctx).then(
          () => hooks.onStep(step, result, hooks.now()),
          (error: unknown) => {
            failed ??= { error };
          },
        ),
      );
    } else {
      hooks.onStep(step, result, hooks.now());
      await step.run(ctx);
    }
  }
  if (!hooks.signal.aborted) await until(durationMs);
  await Promise.all(running);
  if (failed !== undefined) throw failed.error;
}

import type { Behaviour } from '@cbsuite/testkit/behaviour.js';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PROFILE, type Profile, QUICK_PROFILE } from './profile.js';
import { runScenario, type ScenarioContext, type StepResult, script } from './scenario.js';

/** The script's world, by hand: three instances and a service key's threshold, with a log of what was done. */
function world(): ScenarioContext & { readonly log: string[] } {
  const log: string[] = [];
  let errRate = 0.5;
  return {
    log,
    instances: {
      addresses: ['127.0.0.1:1', '127.0.0.1:2', '127.0.0.1:3'],
      kill: async (a) => void log.push(`kill ${a}`),
      respawn: async (a) => {
        await new Promise((r) => setTimeout(r, 30));
        log.push(`respawn ${a}`);
      },
      setBehaviour: async (b: Behaviour) => void log.push(`behave ${b.failRate} ${b.delayMs}`),
    },
    serviceKey: 'demo-client/echo.v1.Echo/Say',
    serviceErrRate: () => errRate,
    setServiceErrRate: (v) => {
      log.push(`errRate ${v}`);
      errRate = v;
    },
  };
}

describe('script', () => {
  it('keeps the steps in order and inside the run, in both profiles', () => {
    for (const p of [DEFAULT_PROFILE, QUICK_PROFILE]) {
      const times = script(p).map((s) => s.atMs);
      expect(times).toEqual([...times].sort((a, b) => a - b));
      expect(times.at(-1)).toBeLessThan(p.durationMs);
      expect(script(p).map((s) => s.kind)).toEqual(['start', 'kill', 'respawn', 'degrade', 'config', 'recover']);
      // The degraded service fails less than the first threshold and more than the second.
      expect(p.degraded.failRate).toBeLessThan(p.errRate.before);
      expect(p.degraded.failRate).toBeGreaterThan(p.errRate.after);
    }
  });

  it('plays each step at its time, tells it when its phase begins, and waits for the end', async () => {
    const fast: Profile = {
      ...QUICK_PROFILE,
      durationMs: 200,
      at: { kill: 20, respawn: 40, degrade: 100, config: 120, recover: 140 },
    };
    const ctx = world();
    const heard: [string, number, StepResult][] = [];
    const t0 = performance.now();
    const now = () => performance.now() - t0;
    await runScenario(script(fast), ctx, fast.durationMs, {
      now,
      signal: new AbortController().signal,
      onStep: (step, result, atMs) => {
        heard.push([step.kind, atMs, result]);
        ctx.log.push(`told ${step.kind}`);
      },
    });
    expect(now()).toBeGreaterThanOrEqual(200);
    expect(ctx.log).toEqual([
      'told start',
      'told kill',
      'kill 127.0.0.1:2',
      'respawn 127.0.0.1:2',
      'told respawn',
      'told degrade',
      'behave 0.35 80',
      'told config',
      'errRate 0.25',
      'told recover',
      'behave 0 15',
    ]);
    for (const [kind, atMs] of heard) {
      const due = script(fast).find((s) => s.kind === kind)?.atMs ?? 0;
      expect(atMs).toBeGreaterThanOrEqual(due);
    }
    // A respawn is told once done: 30 ms after it was due (give or take the timer's millisecond).
    expect(heard[2]?.[1]).toBeGreaterThanOrEqual(fast.at.respawn + 25);
    expect(heard[1]?.[2]).toEqual({
      target: '127.0.0.1:2',
      text: 'instance 127.0.0.1:2 killed (SIGKILL): its calls in flight are cut; Say is idempotent, so the suite retries them on another instance and the caller should see no failure',
    });
    expect(heard[4]?.[2].text).toBe(
      "updateServiceCBConfig('demo-client/echo.v1.Echo/Say', { errRate: 0.25 }) at run time: errRate 0.5 → 0.25; the window's failures now exceed it",
    );
  });

  it('keeps the schedule while a respawn is slow: the steps after it run at their times, the respawn is told when done', async () => {
    const fast: Profile = {
      ...QUICK_PROFILE,
      durationMs: 150,
      at: { kill: 10, respawn: 20, degrade: 40, config: 60, recover: 80 },
    };
    let letRespawnFinish = () => {};
    const slow = new Promise<void>((resolve) => {
      letRespawnFinish = resolve;
    });
    const ctx = world();
    const heard: string[] = [];
    await runScenario(script(fast), { ...ctx, instances: { ...ctx.instances, respawn: () => slow } }, fast.durationMs, {
      now: (() => {
        const t0 = performance.now();
        return () => performance.now() - t0;
      })(),
      signal: new AbortController().signal,
      onStep: (step) => {
        heard.push(step.kind);
        // The respawn ends only once the step after the next one was told.
        if (step.kind === 'config') letRespawnFinish();
      },
    });
    expect(heard).toEqual(['start', 'kill', 'degrade', 'config', 'respawn', 'recover']);
  });

  it('tells the fleet what it does: four client processes calling, and the config published from one of them', () => {
    const ctx = { ...world(), fleet: { nodes: 4, publisher: 'client-1' } };
    const steps = script(QUICK_PROFILE);
    expect(steps[0]?.describe(ctx).text).toBe(
      '3 healthy instances answering in 15 ms; 4 client processes call Say about 50/s each (200/s in all) through ' +
        'CBSuite, sharing their breakers through Redis (a service breaker per method, an instance breaker per address)',
    );
    expect(steps[4]?.describe(ctx).text).toBe(
      "publishServiceCBConfig('demo-client/echo.v1.Echo/Say', { errRate: 0.25 }) on client-1 at run time: errRate " +
        '0.5 → 0.25 for the whole fleet (validated and applied there, stored in Redis and published to the other ' +
        "nodes); the fleet window's failures now exceed it",
    );
  });

  it('stops at once when aborted', async () => {
    const ctx = world();
    const stop = new AbortController();
    const t0 = performance.now();
    setTimeout(() => stop.abort(), 50);
    await runScenario(script(QUICK_PROFILE), ctx, QUICK_PROFILE.durationMs, {
      now: () => performance.now() - t0,
      signal: stop.signal,
      onStep: () => undefined,
    });
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(ctx.log).toEqual([]);
  });
});

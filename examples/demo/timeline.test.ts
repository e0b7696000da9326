import { ZERO } from '@cbsuite/testkit/node-stats.js';
import { describe, expect, it } from 'vitest';
import { countersByNode } from './snapshot.js';
import { A, B, KEY, world } from './test-worlds.js';
import { downSpans, segments, type Timeline, TimelineRecorder } from './timeline.js';

const meta = {
  title: 't',
  mode: 'embedded' as const,
  startedAt: 1_700_000_000_000,
  nodes: ['client-1'],
  instances: [A, B],
};

function record(): Timeline {
  const r = new TimelineRecorder(meta);
  const w0 = world({ atMs: 0 });
  r.beginPhase('steady', 'steady load', 0, countersByNode(w0));
  r.step({ atMs: 0, kind: 'start', text: 'go' });
  r.threshold({ atMs: 0, node: 'client-1', key: KEY, errRate: 0.5 });
  r.sample(world({ atMs: 1000, counters: { calls: 200, ok: 198 } }));
  const w1 = world({ atMs: 1500, counters: { calls: 300, ok: 297 } });
  r.beginPhase('instance-down', 'instance down', 1500, countersByNode(w1));
  r.step({ atMs: 1500, kind: 'kill', text: 'kill', target: B });
  r.state({
    atMs: 1600,
    node: 'client-1',
    level: 'instance',
    key: B,
    from: 'CLOSED',
    to: 'OPEN',
    cause: 'trip',
    samples: 100,
    errorRate: 0.03,
    coolingMs: 1000,
  });
  r.sample(world({ atMs: 2000, counters: { calls: 400, ok: 398, retries: 2, skips: 5 }, down: [B] }));
  r.step({ atMs: 2600, kind: 'respawn', text: 'respawn', target: B });
  const w2 = world({ atMs: 2600, counters: { calls: 520, ok: 517, retries: 2, skips: 9 } });
  r.beginPhase('instance-back', 'instance back', 2600, countersByNode(w2));
  r.state({ ...base(2800), from: 'OPEN', to: 'HALFOPEN', cause: 'cooled' });
  r.state({ ...base(3000), from: 'HALFOPEN', to: 'CLOSED', cause: 'probeSucceeded' });
  r.threshold({ atMs: 3100, node: 'client-1', key: KEY, errRate: 0.25 });
  return r.finish(world({ atMs: 3400, counters: { calls: 680, ok: 680, retries: 2, skips: 9 } }));
}
const base = (atMs: number) => ({
  atMs,
  node: 'client-1',
  level: 'instance' as const,
  key: B,
  samples: 3,
  errorRate: 0,
  coolingMs: 0,
});

describe('TimelineRecorder', () => {
  it('keeps a sample per node per second, with the counts of that second and the breakers at its end', () => {
    const t = record();
    expect(t.seconds.map((s) => [s.atMs, s.ms, s.counts.calls, s.counts.ok])).toEqual([
      [1000, 1000, 200, 198],
      [2000, 1000, 200, 200],
      [3400, 1400, 280, 282],
    ]);
    expect(t.seconds[1]?.counts.retries).toBe(2);
    expect(t.seconds[1]?.instances[B]).toEqual({ state: 'CLOSED', errorRate: 0, samples: 200, up: false });
    expect(t.seconds[0]?.services[KEY]).toEqual({
      state: 'CLOSED',
      errorRate: 0.05,
      samples: 400,
      threshold: 0.5,
      minSample: 20,
    });
  });

  it('closes each phase with the counts of its span, by node', () => {
    const t = record();
    expect(t.phases.map((p) => [p.name, p.startMs, p.endMs, p.counts['client-1']?.calls])).toEqual([
      ['steady', 0, 1500, 300],
      ['instance-down', 1500, 2600, 220],
      ['instance-back', 2600, 3400, 160],
    ]);
    expect(t.phases[1]?.counts['client-1']).toEqual({ ...ZERO, calls: 220, ok: 220, retries: 2, skips: 9 });
  });

  it('gathers the run: steps, state changes, thresholds, keys, totals', () => {
    const t = record();
    expect(t).toMatchObject({ version: 1, mode: 'embedded', durationMs: 3400, nodes: ['client-1'] });
    expect(t.services).toEqual([KEY]);
    expect(t.instances).toEqual([A, B]);
    expect(t.steps.map((s) => s.kind)).toEqual(['start', 'kill', 'respawn']);
    expect(t.states).toHaveLength(3);
    expect(t.thresholds.map((m) => m.errRate)).toEqual([0.5, 0.25]);
    expect(t.totals['client-1']?.calls).toBe(680);
  });

  it('skips a sample that does not move time forward', () => {
    const r = new TimelineRecorder(meta);
    r.sample(world({ atMs: 1000, counters: { calls: 10 } }));
    r.sample(world({ atMs: 1000, counters: { calls: 12 } }));
    expect(r.finish(world({ atMs: 1000 })).seconds).toHaveLength(1);
  });
});

describe('segments and downSpans', () => {
  it('gives each breaker CLOSED until its first change, then each state until the next', () => {
    const t = record();
    expect(segments(t, 'client-1', 'instance', B)).toEqual([
      { startMs: 0, endMs: 1600, state: 'CLOSED' },
      { startMs: 1600, endMs: 2800, state: 'OPEN' },
      { startMs: 2800, endMs: 3000, state: 'HALFOPEN' },
      { startMs: 3000, endMs: 3400, state: 'CLOSED' },
    ]);
    expect(segments(t, 'client-1', 'instance', A)).toEqual([{ startMs: 0, endMs: 3400, state: 'CLOSED' }]);
    expect(segments(t, 'client-2', 'instance', B)).toEqual([{ startMs: 0, endMs: 3400, state: 'CLOSED' }]);
  });

  it('drops empty segments when changes come at the same time', () => {
    const t = record();
    const same = {
      ...t,
      states: [...t.states, { ...t.states[0]!, atMs: 3000, from: 'CLOSED', to: 'OPEN' }],
    } as Timeline;
    expect(segments(same, 'client-1', 'instance', B).slice(-2)).toEqual([
      { startMs: 2800, endMs: 3000, state: 'HALFOPEN' },
      { startMs: 3000, endMs: 3400, state: 'OPEN' },
    ]);
  });

  it('spans each kill to its respawn, or to the end', () => {
    const t = record();
    expect(downSpans(t, B)).toEqual([{ startMs: 1500, endMs: 2600 }]);
    expect(downSpans(t, A)).toEqual([]);
    const unrevived = { ...t, steps: t.steps.filter((s) => s.kind !== 'respawn') };
    expect(downSpans(unrevived, B)).toEqual([{ startMs: 1500, endMs: 3400 }]);
  });
});

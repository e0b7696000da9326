import { State } from '@cbsuite/core';
import { type EchoServer, grpc, say } from '@cbsuite/testkit/echo.js';
import { ManualClock } from '@cbsuite/testkit/manual-clock.js';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { BreakerLevel } from './breaker-level.js';
import { CallRegistry } from './call-registry.js';
import type { CBPanicEvent } from './events.js';
import { InstanceLevel } from './instance-level.js';
import { BreakerPicker } from './instance-picker.js';
import { OutlierEjection } from './outlier-ejection.js';
import { resolveOutlierDetection } from './outlier-options.js';
import { type PanicChange, PanicMode } from './panic-mode.js';
import { CBSuiteMetrics } from './prometheus.js';
import { type Cluster, startCluster } from './test-support/instance-cluster.js';

const { PickResultType } = grpc.experimental;
type PickResult = grpc.experimental.PickResult;

function roundRobin(addresses: string[]): grpc.experimental.Picker {
  let next = 0;
  return {
    pick: (): PickResult => {
      const address = addresses[next++ % addresses.length] as string;
      return {
        pickResultType: PickResultType.COMPLETE,
        subchannel: { getAddress: () => address } as unknown as grpc.experimental.SubchannelInterface,
        status: null,
        onCallStarted: null,
        onCallEnded: null,
      };
    },
  };
}

function panicLevel(threshold: number, addresses: string[]) {
  const clock = new ManualClock();
  const breakers = new BreakerLevel(
    'instance',
    {
      panelOptions: { now: clock.now },
      defaults: { minSample: 1 },
      makeTrip: () => () => true,
      getErrorType: (s) => (s.code === grpc.status.OK ? 3 : 2),
    },
    'instanceCBConfig',
  );
  const calls = new CallRegistry({ maxAttempts: 1, idempotent: () => false });
  const panic = new PanicMode(threshold);
  const changes: PanicChange[] = [];
  panic.onChange((c) => changes.push(c));
  const l = new InstanceLevel(breakers, calls, panic);
  l.updateAddresses({}, addresses);
  const picker = new BreakerPicker(roundRobin(addresses), l, addresses.length, grpc.experimental);
  return { l, clock, panel: breakers.panel, panic, changes, picker };
}

const metadata = () => ({ metadata: new grpc.Metadata(), extraPickInfo: {} });

describe('PanicMode', () => {
  it('is in panic while fewer than the threshold share allow calls, and reports each change once', () => {
    const p = new PanicMode(0.5);
    const changes: PanicChange[] = [];
    p.onChange((c) => changes.push(c));
    p.update(2, 4);
    expect(p.inPanic).toBe(false);
    p.update(1, 4);
    p.update(0, 4);
    expect(p.inPanic).toBe(true);
    p.update(3, 4);
    expect(p.inPanic).toBe(false);
    p.update(0, 0);
    expect(p.inPanic).toBe(false);
    p.update(1, 4);
    p.update(0, 0);
    expect(p.inPanic).toBe(true);
    expect(changes.slice(0, 2)).toEqual([
      { entered: true, available: 1, total: 4, threshold: 0.5 },
      { entered: false, available: 3, total: 4, threshold: 0.5 },
    ]);
    expect(p.panics).toBe(2);
  });

  it('threshold 0 is off; threshold 1 panics as soon as one instance is tripped', () => {
    const off = new PanicMode(0);
    off.update(0, 3);
    expect(off.inPanic).toBe(false);
    const all = new PanicMode(1);
    all.update(2, 3);
    expect(all.inPanic).toBe(true);
  });
});

describe('BreakerPicker in panic', () => {
  it('spreads picks over every instance, tripped ones included, and records their outcomes', () => {
    const { l, panel, changes, picker } = panicLevel(0.5, ['a', 'b', 'c']);
    panel.fail('a');
    expect(l.panic.inPanic).toBe(false);
    panel.fail('b');
    expect(changes).toEqual([{ entered: true, available: 1, total: 3, threshold: 0.5 }]);
    const picks = Array.from({ length: 6 }, () => picker.pick(metadata()));
    expect(picks.map((r) => r.subchannel?.getAddress())).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
    picks[0]?.onCallEnded?.(grpc.status.UNAVAILABLE, '', new grpc.Metadata());
    expect(panel.getMetricer('a').failures()).toBe(2);
    expect(l.stats()).toMatchObject({ panic: true, panics: 1, panicPicks: 4, drops: 0 });
  });

  it('holds trips while in panic: a closed instance failing then trips on its first failure after panic ends', () => {
    const { l, panel, clock } = panicLevel(0.5, ['a', 'b', 'c']);
    panel.fail('a');
    panel.fail('b');
    expect(l.panic.inPanic).toBe(true);
    // In panic every instance takes its share anyway: tripping c would change no pick.
    panel.fail('c');
    panel.fail('c');
    expect(panel.getBreaker('c').state()).toBe(State.Closed);
    expect(panel.getMetricer('c').failures()).toBe(2);
    // a cools, probes and closes: two of three allow calls, panic ends.
    clock.advance(5000);
    panel.getBreaker('a').acquire();
    panel.succeed('a');
    panel.getBreaker('a').acquire();
    panel.succeed('a');
    expect(panel.getBreaker('a').state()).toBe(State.Closed);
    expect(l.panic.inPanic).toBe(false);
    panel.fail('c');
    expect(panel.getBreaker('c').state()).toBe(State.Open);
  });

  it('never sends a call to an ejected instance, even in panic: ejections are capped and cannot empty the pool', () => {
    const clock = new ManualClock();
    const breakers = new BreakerLevel(
      'instance',
      {
        panelOptions: { now: clock.now },
        defaults: { minSample: 1 },
        makeTrip: () => () => true,
        getErrorType: (st) => (st.code === grpc.status.OK ? 3 : st.code === grpc.status.DEADLINE_EXCEEDED ? 1 : 2),
      },
      'instanceCBConfig',
    );
    const outliers = new OutlierEjection(
      resolveOutlierDetection('outlierDetection', {
        intervalMs: 100,
        maxEjectionPercent: 30,
        latencyEjection: { factor: 3, minGapMs: 5, minimumHosts: 3, requestVolume: 3 },
      }) as NonNullable<ReturnType<typeof resolveOutlierDetection>>,
      clock.now,
      () => 0,
      () => 3,
    );
    const l = new InstanceLevel(
      breakers,
      new CallRegistry({ maxAttempts: 1, idempotent: () => false }),
      new PanicMode(0.5),
      outliers,
    );
    l.updateAddresses({}, ['a', 'b', 'c']);
    const picker = new BreakerPicker(roundRobin(['a', 'b', 'c']), l, 3, grpc.experimental);
    // 'a' answers in 100 ms, the others in 10 ms; fast errors from 'a' do not make it look fast.
    const ok = { code: grpc.status.OK, details: '', metadata: new grpc.Metadata() };
    const refused = { code: grpc.status.RESOURCE_EXHAUSTED, details: '', metadata: new grpc.Metadata() };
    const end = (addr: string, status: typeof ok, ms: number) => {
      const b = breakers.breakerFor(addr);
      l.recordAttempt(addr, b, b?.acquire() ?? 0, status, undefined, ms);
    };
    for (let i = 0; i < 5; i++) {
      end('a', ok, 100);
      end('b', ok, 10);
      end('c', ok, 10);
      for (let j = 0; j < 20; j++) end('a', refused, 1);
    }
    clock.advance(100);
    end('b', ok, 10);
    expect(l.stats().ejected).toEqual(['a']);
    // 'b' trips too: one instance of three allows calls, so the level is in panic; 'a' stays out.
    breakers.panel.fail('b');
    expect(l.panic.inPanic).toBe(true);
    const picks = Array.from({ length: 6 }, () => picker.pick(metadata()).subchannel?.getAddress());
    expect(picks).toEqual(['b', 'c', 'b', 'c', 'b', 'c']);
  });

  it('never sends a call to a forced-open instance, even in panic', () => {
    const { panel, picker } = panicLevel(1, ['a', 'b']);
    panel.setMode('a', 'forcedOpen');
    const picks = Array.from({ length: 4 }, () => picker.pick(metadata()).subchannel?.getAddress());
    expect(picks).toEqual(['b', 'b', 'b', 'b']);
  });

  it('leaves panic when enough breakers close, or when the tripped addresses leave the list', () => {
    const { l, clock, panel, changes, picker } = panicLevel(0.5, ['a', 'b', 'c']);
    panel.fail('a');
    panel.fail('b');
    clock.advance(5000);
    // The cooled breaker gives its probe through the usual admission; its success closes it.
    for (let i = 0; i < 3; i++) picker.pick(metadata()).onCallEnded?.(grpc.status.OK, '', new grpc.Metadata());
    clock.advance(200);
    for (let i = 0; i < 3; i++) picker.pick(metadata()).onCallEnded?.(grpc.status.OK, '', new grpc.Metadata());
    expect(panel.breaker('a')?.state()).toBe(State.Closed);
    expect(changes.map((c) => c.entered)).toEqual([true, false]);
    panel.fail('a');
    panel.fail('b');
    expect(l.panic.inPanic).toBe(true);
    l.updateAddresses({}, ['c', 'd']);
    expect(l.panic.inPanic).toBe(false);
  });

  it('without panic mode (the default) drops the call when every instance is tripped', () => {
    const { panel, picker } = panicLevel(0, ['a']);
    panel.fail('a');
    expect(picker.pick(metadata()).pickResultType).toBe(PickResultType.DROP);
  });
});

describe('panic mode with real servers', () => {
  let cluster: Cluster | undefined;
  afterEach(async () => {
    await cluster?.close();
    cluster = undefined;
  });

  it('every instance failing: calls still reach the servers, none is dropped; the level leaves panic when they recover', async () => {
    cluster = await startCluster({
      instanceFailureCodes: ['UNAVAILABLE'],
      instanceCBConfig: { minSample: 2 },
      panicThreshold: 0.5,
      maxAttempts: 1,
    });
    const { servers, cbs, client, clock } = cluster;
    const panics: CBPanicEvent[] = [];
    cbs.onPanic((e) => panics.push(e));
    for (const s of servers) s.setBehavior(() => ({ code: grpc.status.UNAVAILABLE }));
    for (let i = 0; i < 30 && servers.some((s) => cbs.instancePanel.breaker(s.address)?.state() !== State.Open); i++) {
      await say(client, 'x');
    }
    expect(panics).toMatchObject([{ type: 'panic', level: 'instance', entered: true, total: 3, threshold: 0.5 }]);
    const before = servers.map((s: EchoServer) => s.hits.Say);
    for (let i = 0; i < 12; i++) {
      const r = await say(client, 'in panic');
      expect(r.error?.code).toBe(grpc.status.UNAVAILABLE);
      expect(r.error?.details).not.toContain('circuitbreak');
    }
    expect(servers.map((s, i) => s.hits.Say - (before[i] as number))).toEqual([4, 4, 4]);
    expect(cbs.stats().instance).toMatchObject({ drops: 0, panic: true, panics: 1 });
    const registry = new Registry();
    new CBSuiteMetrics({ registry }).add(cbs, 'p');
    const panicSeries = async () =>
      (await registry.metrics()).split('\n').filter((l) => /^cbsuite_instance_panic(s_total|_picks_total)?\{/.test(l));
    const picks = cbs.stats().instance.panicPicks;
    expect(picks).toBeGreaterThanOrEqual(12);
    expect(await panicSeries()).toEqual([
      'cbsuite_instance_panic{suite="p"} 1',
      'cbsuite_instance_panics_total{suite="p"} 1',
      `cbsuite_instance_panic_picks_total{suite="p"} ${picks}`,
    ]);

    for (const s of servers) s.setBehavior(() => undefined);
    clock.advance(5000);
    for (let i = 0; i < 60 && panics.length < 2; i++) {
      if (i % 6 === 5) clock.advance(200);
      expect((await say(client, 'recovering')).error).toBeUndefined();
    }
    expect(panics[1]).toMatchObject({ entered: false, total: 3 });
    expect(cbs.stats().instance.panic).toBe(false);
    expect((await panicSeries())[0]).toBe('cbsuite_instance_panic{suite="p"} 0');
    expect(cbs.recentEvents().filter((e) => e.type === 'panic')).toHaveLength(2);
  });
});

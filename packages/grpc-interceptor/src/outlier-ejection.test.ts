import { ManualClock } from '@cbsuite/testkit/manual-clock.js';
import { describe, expect, it } from 'vitest';
import { type EjectionChange, OutlierEjection } from './outlier-ejection.js';
import { type OutlierDetectionOptions, resolveOutlierDetection } from './outlier-options.js';

function detector(options: OutlierDetectionOptions, hosts: number, random = () => 0) {
  const clock = new ManualClock();
  const resolved = resolveOutlierDetection('outlierDetection', options);
  if (resolved === undefined) throw new Error('unreachable');
  const d = new OutlierEjection(resolved, clock.now, random, () => hosts);
  const changes: EjectionChange[] = [];
  d.onChange((c) => changes.push(c));
  return { d, clock, changes };
}

/** `n` outcomes on `address`: the first `failures` failed, each taking `latencyMs`. */
function feed(d: OutlierEjection, address: string, n: number, failures = 0, latencyMs = 1): void {
  for (let i = 0; i < n; i++) d.record(address, i < failures, latencyMs);
}

const HOSTS = ['a', 'b', 'c', 'd', 'e'];

describe('OutlierEjection', () => {
  it('success rate: ejects the one instance below mean − 1.9 stdev, at the end of the interval and not before', () => {
    const { d, clock, changes } = detector({ successRateEjection: {} }, 5);
    for (const h of HOSTS) feed(d, h, 100, h === 'c' ? 30 : 0);
    expect(changes).toEqual([]);
    clock.advance(10_000);
    d.record('a', false, 1);
    expect(changes).toEqual([
      { address: 'c', ejected: true, reason: 'successRate', ejectionTimeMs: 30_000, ejectionCount: 1 },
    ]);
    expect(d.isEjected('c')).toBe(true);
    expect(d.ejected()).toEqual(['c']);
  });

  it('success rate needs minimumHosts candidates with requestVolume calls each', () => {
    const { d, clock, changes } = detector({ successRateEjection: {} }, 5);
    for (const h of HOSTS) feed(d, h, h === 'e' ? 99 : 100, h === 'c' ? 30 : 0);
    clock.advance(10_000);
    d.evaluate(clock.now());
    expect(changes).toEqual([]);
  });

  it('failure percentage: never more than maxEjectionPercent ejected at once, but one may always be', () => {
    const { d, clock, changes } = detector({ failurePercentageEjection: { threshold: 20 }, maxEjectionPercent: 20 }, 5);
    for (const h of HOSTS) feed(d, h, 50, h === 'b' || h === 'd' ? 15 : 0);
    clock.advance(10_000);
    d.evaluate(clock.now());
    expect(changes.map((c) => c.address)).toEqual(['b']);
    const one = detector({ failurePercentageEjection: { threshold: 20 }, maxEjectionPercent: 1 }, 5);
    for (const h of HOSTS) feed(one.d, h, 50, h === 'b' ? 15 : 0);
    one.clock.advance(10_000);
    one.d.evaluate(one.clock.now());
    expect(one.changes.map((c) => c.address)).toEqual(['b']);
  });

  it('enforcementPercentage: an outlier is ejected only when the draw is under it', () => {
    const { d, clock, changes } = detector({ failurePercentageEjection: { enforcementPercentage: 40 } }, 5, () => 0.5);
    for (const h of HOSTS) feed(d, h, 50, h === 'b' ? 50 : 0);
    clock.advance(10_000);
    d.evaluate(clock.now());
    expect(changes).toEqual([]);
  });

  it('ejection time grows with each ejection (capped) and the count decays while the instance stays healthy', () => {
    const { d, clock, changes } = detector(
      {
        failurePercentageEjection: { minimumHosts: 2, requestVolume: 10 },
        maxEjectionTimeMs: 50_000,
        maxEjectionPercent: 50,
      },
      2,
    );
    const round = (bad: boolean) => {
      feed(d, 'a', 10);
      if (!d.isEjected('b')) feed(d, 'b', 10, bad ? 10 : 0);
      clock.advance(10_000);
      d.evaluate(clock.now());
    };
    round(true);
    expect(changes.at(-1)).toMatchObject({ address: 'b', ejected: true, ejectionTimeMs: 30_000, ejectionCount: 1 });
    round(true);
    round(true);
    expect(changes).toHaveLength(1);
    round(true);
    // 30 s are up at the fourth evaluation: back, and (still failing) ejected again at the next.
    expect(changes.at(-1)).toMatchObject({ address: 'b', ejected: false, reason: 'expired' });
    round(true);
    expect(changes.at(-1)).toMatchObject({ address: 'b', ejected: true, ejectionTimeMs: 50_000, ejectionCount: 2 });
    for (let i = 0; i < 5; i++) round(false);
    expect(changes.at(-1)).toMatchObject({ address: 'b', ejected: false });
    const countAtReturn = changes.at(-1)?.ejectionCount;
    expect(countAtReturn).toBe(2);
    round(false);
    round(false);
    round(true);
    // Two healthy intervals took the count from 2 to 0: the next ejection is the base time again.
    expect(changes.at(-1)).toMatchObject({ address: 'b', ejected: true, ejectionTimeMs: 30_000, ejectionCount: 1 });
  });

  it('an ejection ends at the first look after its time, without waiting for an interval', () => {
    const { d, clock, changes } = detector({ failurePercentageEjection: { minimumHosts: 2, requestVolume: 10 } }, 2);
    feed(d, 'a', 10);
    feed(d, 'b', 10, 10);
    clock.advance(10_000);
    d.evaluate(clock.now());
    clock.advance(29_999);
    expect(d.isEjected('b')).toBe(true);
    clock.advance(1);
    expect(d.isEjected('b')).toBe(false);
    expect(changes.map((c) => c.ejected)).toEqual([true, false]);
  });

  it('latency: ejects an instance over factor × the median and minGapMs over it; not one within the gap', () => {
    const { d, clock, changes } = detector({ latencyEjection: {}, maxEjectionPercent: 100 }, 4);
    feed(d, 'a', 10, 0, 10);
    feed(d, 'b', 10, 0, 12);
    feed(d, 'c', 10, 0, 11);
    feed(d, 'd', 10, 0, 100);
    clock.advance(10_000);
    d.evaluate(clock.now());
    expect(changes).toMatchObject([{ address: 'd', reason: 'latency' }]);
    const tiny = detector({ latencyEjection: {} }, 3);
    feed(tiny.d, 'a', 10, 0, 0.1);
    feed(tiny.d, 'b', 10, 0, 0.1);
    feed(tiny.d, 'c', 10, 0, 2);
    tiny.clock.advance(10_000);
    tiny.d.evaluate(tiny.clock.now());
    expect(tiny.changes).toEqual([]);
  });

  it('forgets an address no channel lists', () => {
    const { d, clock } = detector({ failurePercentageEjection: { minimumHosts: 2, requestVolume: 10 } }, 2);
    feed(d, 'a', 10);
    feed(d, 'b', 10, 10);
    clock.advance(10_000);
    d.evaluate(clock.now());
    d.forget('b');
    expect(d.ejected()).toEqual([]);
    expect(d.isEjected('b')).toBe(false);
  });
});

import { type Counters, ZERO } from '@cbsuite/testkit/node-stats.js';
import { describe, expect, it } from 'vitest';
import { delta, ended, perSecond, RateMeter, rejected, serviceErrorRate, sum } from './rates.js';

const c = (o: Partial<Counters>): Counters => ({ ...ZERO, ...o });

describe('rates', () => {
  it('subtracts and adds counters field by field', () => {
    const a = c({ calls: 10, ok: 8, failed: 1, rejectedService: 1, retries: 2, skips: 3 });
    const b = c({ calls: 25, ok: 18, failed: 4, rejectedService: 2, rejectedInstance: 1, retries: 2, skips: 7 });
    expect(delta(a, b)).toEqual(c({ calls: 15, ok: 10, failed: 3, rejectedService: 1, rejectedInstance: 1, skips: 4 }));
    expect(sum([a, b])).toEqual(
      c({ calls: 35, ok: 26, failed: 5, rejectedService: 3, rejectedInstance: 1, retries: 4, skips: 10 }),
    );
    expect(sum([])).toEqual(ZERO);
  });

  it('counts ended and rejected calls', () => {
    const x = c({ calls: 12, ok: 5, failed: 2, rejectedService: 3, rejectedInstance: 1 });
    expect(ended(x)).toBe(11);
    expect(rejected(x)).toBe(4);
  });

  it("gives the service's error rate over the calls it answered, rejections aside", () => {
    expect(serviceErrorRate(c({ ok: 6, failed: 2, rejectedService: 2 }))).toBe(0.25);
    expect(serviceErrorRate(c({ rejectedService: 2 }))).toBe(0);
  });

  it('turns counts over a span into a rate per second', () => {
    expect(perSecond(50, 250)).toBe(200);
    expect(perSecond(50, 0)).toBe(0);
  });

  it('measures the call rate over the last second of readings', () => {
    const m = new RateMeter(1000);
    expect(m.callsPerSecond()).toBe(0);
    for (let t = 0; t <= 3000; t += 200) m.push(t, c({ calls: t < 2000 ? t / 5 : 400 + (t - 2000) / 10 }));
    // 200 calls/s until 2 s, then 100 calls/s: the last second holds only the slower rate.
    expect(m.recent().ms).toBe(1000);
    expect(m.callsPerSecond()).toBe(100);
  });

  it('keeps the span at least a second long once it has the readings', () => {
    const m = new RateMeter(1000);
    m.push(0, c({ calls: 0 }));
    m.push(700, c({ calls: 70 }));
    m.push(1300, c({ calls: 130 }));
    expect(m.recent()).toEqual({ ms: 1300, counts: c({ calls: 130 }) });
    m.push(1800, c({ calls: 180 }));
    expect(m.recent().ms).toBe(1100);
    expect(m.callsPerSecond()).toBe(100);
  });
});

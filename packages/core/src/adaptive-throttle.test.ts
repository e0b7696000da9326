import { ManualClock } from '@cbsuite/testkit/manual-clock.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AdaptiveThrottle, type AdaptiveThrottleOptions } from './adaptive-throttle.js';
import { OptionRangeError, OptionTypeError } from './option-error.js';

/** A small deterministic PRNG (mulberry32), so runs repeat exactly. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('AdaptiveThrottle', () => {
  it('rejects with p = (requests − k × accepts) / (requests + 1), counting rejected calls as requests', () => {
    const clock = new ManualClock(0);
    const roll = { value: 0 };
    const a = new AdaptiveThrottle({
      minRequests: 0,
      maxRejectProbability: 1,
      now: clock.now,
      random: () => roll.value,
    });
    roll.value = 0.999_999;
    for (let i = 0; i < 10; i++) expect(a.admit('k')).toBe(true);
    for (let i = 0; i < 2; i++) a.record('k', true);
    // 10 requests, 2 accepts: (10 − 4) / 11.
    expect(a.probability('k')).toBeCloseTo(6 / 11, 15);
    roll.value = 6 / 11 - 1e-9;
    expect(a.admit('k')).toBe(false);
    // The rejected call counted: (11 − 4) / 12.
    expect(a.probability('k')).toBeCloseTo(7 / 12, 15);
    expect(a.rejections()).toEqual(new Map([['k', 1]]));
  });

  it('rejects nothing below minRequests or while accepts keep up, and caps the probability', () => {
    const clock = new ManualClock(0);
    const a = new AdaptiveThrottle({ minRequests: 5, now: clock.now, random: () => 0 });
    for (let i = 0; i < 4; i++) expect(a.admit('k')).toBe(true);
    expect(a.probability('k')).toBe(0);
    a.admit('k');
    expect(a.probability('k')).toBeCloseTo(5 / 6, 15);
    for (let i = 0; i < 100; i++) a.admit('k');
    expect(a.probability('k')).toBe(0.9);
    for (let i = 0; i < 60; i++) a.record('k', true);
    expect(a.probability('k')).toBe(0);
  });

  it('forgets requests and accepts older than the window', () => {
    const clock = new ManualClock(0);
    const a = new AdaptiveThrottle({ minRequests: 0, windowMs: 1000, bucketNums: 10, now: clock.now });
    for (let i = 0; i < 50; i++) a.admit('k');
    expect(a.probability('k')).toBeGreaterThan(0.9 - 1e-9);
    clock.advance(1000);
    expect(a.probability('k')).toBe(0);
  });

  it('matches the formula for any mix of requests and accepts', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 500 }),
        fc.integer({ min: 0, max: 500 }),
        fc.double({ min: 1, max: 5, noNaN: true }),
        (r, acc, k) => {
          const clock = new ManualClock(0);
          const a = new AdaptiveThrottle({
            k,
            minRequests: 0,
            maxRejectProbability: 1,
            now: clock.now,
            random: () => 1,
          });
          for (let i = 0; i < r; i++) a.admit('x');
          for (let i = 0; i < acc; i++) a.record('x', true);
          const expected = Math.max(0, (r - k * acc) / (r + 1));
          expect(a.probability('x')).toBeCloseTo(expected, 12);
        },
      ),
    );
  });

  it('against a backend that can accept a tenth of the offered calls, sends about k times what it accepts', () => {
    const clock = new ManualClock(0);
    const a = new AdaptiveThrottle({ now: clock.now, random: prng(7), windowMs: 10_000, bucketNums: 100 });
    // 1,000 calls/s offered for 60 s; the backend accepts at most 100 calls/s (a token per 10 ms) and refuses the rest for overload.
    let tokens = 0;
    let sent = 0;
    let offered = 0;
    let accepted = 0;
    for (let ms = 0; ms < 60_000; ms++) {
      clock.t = ms;
      if (ms % 10 === 0) tokens = Math.min(tokens + 1, 1);
      if (!a.admit('k')) {
        if (ms >= 30_000) offered++;
        continue;
      }
      const ok = tokens > 0;
      if (ok) tokens--;
      a.record('k', ok);
      if (ms >= 30_000) {
        offered++;
        sent++;
        if (ok) accepted++;
      }
    }
    // k = 2: the backend is sent about twice what it accepts, a fifth of what was offered.
    expect({ sentPerAccept: sent / accepted, sentShare: sent / offered }).toEqual({
      sentPerAccept: expect.closeTo(2, 0),
      sentShare: expect.closeTo(0.2, 1),
    });
  });

  it.each([
    [{ k: 0.5 }, new OptionRangeError('adaptiveThrottle.k', 0.5, 'must be a finite number >= 1')],
    [{ windowMs: 0 }, new OptionRangeError('adaptiveThrottle.windowMs', 0, 'must be an integer >= 1')],
    [{ minRequests: -1 }, new OptionRangeError('adaptiveThrottle.minRequests', -1, 'must be an integer >= 0')],
    [
      { maxRejectProbability: 1.5 },
      new OptionRangeError('adaptiveThrottle.maxRejectProbability', 1.5, 'must be a finite number in [0, 1]'),
    ],
    [{ random: 1 }, new OptionTypeError('adaptiveThrottle.random', 1, 'must be a function')],
  ])('refuses %j, naming the field', (options, error) => {
    expect(() => new AdaptiveThrottle(options as AdaptiveThrottleOptions)).toThrow(error);
  });
});

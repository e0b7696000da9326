import { ManualClock } from '@cbsuite/testkit/manual-clock.js';
import { describe, expect, it } from 'vitest';
import { ConcurrencyLimit, type ConcurrencyLimitOptions } from './concurrency-limit.js';
import { OptionRangeError, OptionTypeError } from './option-error.js';

describe('ConcurrencyLimit', () => {
  it('fails calls beyond maxConcurrent fast, per key, and frees a slot on release', () => {
    const clock = new ManualClock(0);
    const c = new ConcurrencyLimit({ maxConcurrent: 2, now: clock.now });
    const a = c.acquire('a') as number;
    c.acquire('a');
    expect(c.acquire('a')).toBeUndefined();
    expect(c.acquire('b')).not.toBeUndefined();
    c.release('a', a, 'success');
    expect(c.inFlight('a')).toBe(1);
    expect(c.acquire('a')).not.toBeUndefined();
    expect(c.rejections()).toEqual(new Map([['a', 1]]));
    expect(c.limit('a')).toBe(2);
  });

  it('lists its keys, and forgets a removed key though it was the last one looked up', () => {
    const c = new ConcurrencyLimit({ maxConcurrent: 1 });
    c.acquire('a');
    c.acquire('b');
    expect(c.acquire('b')).toBeUndefined();
    expect([...c.keys()]).toEqual(['a', 'b']);
    c.remove('b');
    expect([...c.keys()]).toEqual(['a']);
    expect(c.inFlight('b')).toBe(0);
    expect(c.acquire('b')).not.toBeUndefined();
    expect(c.rejections()).toEqual(new Map());
    expect(c.acquire('a')).toBeUndefined();
  });

  it('adaptive: shrinks the limit when latency inflates, grows it back when it settles, within [minLimit, maxLimit]', () => {
    const clock = new ManualClock(0);
    const c = new ConcurrencyLimit({ adaptive: { initialLimit: 20, minLimit: 5, maxLimit: 40 }, now: clock.now });
    const round = (rttMs: number) => {
      const held = Array.from({ length: c.limit('k') }, () => c.acquire('k') as number);
      clock.advance(rttMs);
      for (const at of held) c.release('k', at, 'success');
    };
    for (let i = 0; i < 20; i++) round(10);
    const healthy = c.limit('k');
    expect(healthy).toBe(40);
    for (let i = 0; i < 3; i++) round(100);
    expect(c.limit('k')).toBeLessThan(healthy);
    expect(c.limit('k')).toBeGreaterThanOrEqual(5);
    for (let i = 0; i < 200; i++) round(10);
    expect(c.limit('k')).toBe(40);
  });

  it('adaptive: a dropped call (timeout, overload) multiplies the limit by dropFactor; an ignored one changes nothing', () => {
    const clock = new ManualClock(0);
    const c = new ConcurrencyLimit({ adaptive: { initialLimit: 20, minLimit: 10 }, now: clock.now });
    const at = c.acquire('k') as number;
    c.release('k', at, 'dropped');
    expect(c.limit('k')).toBe(18);
    c.release('k', c.acquire('k') as number, 'ignored');
    expect(c.limit('k')).toBe(18);
    for (let i = 0; i < 20; i++) c.release('k', c.acquire('k') as number, 'dropped');
    expect(c.limit('k')).toBe(10);
  });

  it('adaptive: leaves the limit alone while the caller uses less than half of it', () => {
    const clock = new ManualClock(0);
    const c = new ConcurrencyLimit({ adaptive: { initialLimit: 20 }, now: clock.now });
    for (let i = 0; i < 50; i++) {
      const at = c.acquire('k') as number;
      clock.advance(i < 25 ? 10 : 500);
      c.release('k', at, 'success');
    }
    expect(c.limit('k')).toBe(20);
  });

  it.each([
    [{}, new OptionTypeError('concurrencyLimit', {}, 'must set maxConcurrent, adaptive, or both')],
    [{ maxConcurrent: 0 }, new OptionRangeError('concurrencyLimit.maxConcurrent', 0, 'must be an integer >= 1')],
    [
      { adaptive: { maxLimit: 0 } },
      new OptionRangeError('concurrencyLimit.adaptive.maxLimit', 0, 'must be an integer >= 1'),
    ],
    [
      { maxConcurrent: 10, adaptive: { maxLimit: 20 } },
      new OptionRangeError('concurrencyLimit.adaptive.maxLimit', 20, 'must be an integer in [1, 10]'),
    ],
    [
      { adaptive: { rttTolerance: 0.5 } },
      new OptionRangeError('concurrencyLimit.adaptive.rttTolerance', 0.5, 'must be a finite number >= 1'),
    ],
    [
      { adaptive: { smoothing: 0 } },
      new OptionRangeError(
        'concurrencyLimit.adaptive.smoothing',
        0,
        `must be a finite number in [${Number.MIN_VALUE}, 1]`,
      ),
    ],
    [{ adaptive: 3 }, new OptionTypeError('concurrencyLimit.adaptive', 3, 'must be an object')],
  ])('refuses %j, naming the field', (options, error) => {
    expect(() => new ConcurrencyLimit(options as ConcurrencyLimitOptions)).toThrow(error);
  });
});

import { ManualClock } from '@cbsuite/testkit/manual-clock.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LatencyThrottle, type LatencyThrottleOptions } from './latency-throttle.js';
import { OptionRangeError, OptionTypeError } from './option-error.js';

function setup(options: Partial<LatencyThrottleOptions> = {}, roll = 0.5) {
  const clock = new ManualClock(0);
  const random = { value: roll };
  const t = new LatencyThrottle({
    activeInFlight: 10,
    minSamples: 1,
    now: clock.now,
    random: () => random.value,
    ...options,
  });
  return { t, clock, random };
}

/** Runs `n` calls of `key` one after another, each taking `ms`. */
function serial(t: LatencyThrottle, clock: ManualClock, key: string, n: number, ms: number): void {
  for (let i = 0; i < n; i++) {
    const at = t.start(key);
    if (at === undefined) throw new Error('rejected');
    clock.advance(ms);
    t.end(key, at);
  }
}

describe('LatencyThrottle', () => {
  it('lists its keys, and forgets a removed key (its calls in flight with it) though it was the last one looked up', () => {
    const { t, clock } = setup();
    t.start('a');
    const b = t.start('b') as number;
    expect([...t.keys()]).toEqual(['a', 'b']);
    expect(t.callsInFlight).toBe(2);
    t.remove('b');
    expect([...t.keys()]).toEqual(['a']);
    expect(t.callsInFlight).toBe(1);
    t.end('b', b); // a late end of a forgotten key changes nothing
    expect(t.callsInFlight).toBe(1);
    clock.advance(100);
    expect(t.share('b')).toBe(0);
    expect(t.share('a')).toBe(1);
  });

  it("gives each key its share of the waiting: completed delays plus its calls' time in flight so far", () => {
    const { t, clock } = setup({ activeInFlight: 1000 });
    serial(t, clock, 'fast', 30, 10); // 300 ms
    serial(t, clock, 'slow', 3, 100); // 300 ms
    expect(t.share('fast')).toBeCloseTo(0.5, 12);
    // A hung call of `slow` has waited 400 ms so far: slow's busy time is 700 of 1000.
    t.start('slow');
    clock.advance(400);
    expect(t.share('slow')).toBeCloseTo(0.7, 12);
    expect(t.share('fast')).toBeCloseTo(0.3, 12);
    expect(t.share('unknown')).toBe(0);
  });

  it('sheds nothing while the process is not starving, however slow a key is', () => {
    const { t, clock } = setup({ activeInFlight: 10 }, 0);
    serial(t, clock, 'slow', 50, 1000);
    for (let i = 0; i < 9; i++) expect(t.start('slow')).not.toBeUndefined();
    expect(t.isActive).toBe(false);
    expect(t.rejections()).toEqual(new Map());
  });

  it('once calls in flight reach activeInFlight, rejects a slow, heavy key with probability min(H, maxRejectProbability)', () => {
    const { t, clock, random } = setup({ activeInFlight: 4, releaseInFlight: 2 });
    serial(t, clock, 'fast', 100, 1); // 100 ms of waiting
    serial(t, clock, 'slow', 9, 100); // 900 ms
    for (let i = 0; i < 4; i++) t.start('slow');
    clock.advance(0);
    // H(slow) = 900 / 1000 = 0.9, capped at 0.9: a roll below it rejects, one at or above it passes.
    random.value = 0.899;
    expect(t.start('slow')).toBeUndefined();
    expect(t.isActive).toBe(true);
    random.value = 0.9;
    expect(t.start('slow')).not.toBeUndefined();
    // fast: H = 0.1 is not above loadShare 0.1, and its delay (1 ms) is under minDelayMs.
    random.value = 0;
    expect(t.start('fast')).not.toBeUndefined();
    expect(t.rejections()).toEqual(new Map([['slow', 1]]));
  });

  it("keeps a slow key's recent delay when a burst of its calls has just started (they do not dilute it)", () => {
    const { t, clock } = setup({ activeInFlight: 4, releaseInFlight: 2 }, 0);
    serial(t, clock, 'fast', 100, 1); // 100 ms of waiting
    serial(t, clock, 'slow', 3, 100); // 300 ms: H(slow) = 0.75, recent delay 100 ms
    // A stalled loop decides twelve requests at once: the first four turn throttling on.
    const decided = Array.from({ length: 12 }, () => t.start('slow'));
    expect(decided.filter((d) => d === undefined)).toHaveLength(8);
    expect(t.callsInFlight).toBe(4);
  });

  it('leaves a key with a large share alone when its recent delay is low (it recovered)', () => {
    const { t, clock } = setup({ activeInFlight: 2, windowMs: 60_000, bucketNums: 12, latencyBuckets: 2 }, 0);
    serial(t, clock, 'd', 20, 400); // 8 s of slow calls
    clock.advance(10_000); // two buckets of 5 s later...
    serial(t, clock, 'd', 20, 30); // ...it answers in 30 ms
    serial(t, clock, 'other', 20, 5);
    t.start('other');
    t.start('other');
    expect(t.share('d')).toBeGreaterThan(0.9);
    expect(t.start('d')).not.toBeUndefined();
  });

  it('releases below releaseInFlight, not at activeInFlight (no flapping at the line)', () => {
    const { t, clock } = setup({ activeInFlight: 3, releaseInFlight: 1 }, 0.99);
    serial(t, clock, 's', 5, 100);
    const held = [t.start('s'), t.start('s'), t.start('s')] as number[];
    t.start('s');
    expect(t.isActive).toBe(true);
    t.end('s', held[0] as number);
    t.end('s', held[1] as number);
    t.start('s'); // 2 in flight: still active
    expect(t.isActive).toBe(true);
    t.end('s', held[2] as number);
    t.end('s', held[2] as number);
    t.end('s', held[2] as number);
    t.start('s'); // 0 in flight
    expect(t.isActive).toBe(false);
  });

  it('needs minSamples calls of a key before throttling it', () => {
    const { t, clock } = setup({ activeInFlight: 1, minSamples: 5 }, 0);
    serial(t, clock, 's', 3, 500);
    t.start('s');
    expect(t.start('s')).not.toBeUndefined(); // 3 completed + 1 in flight < 5
    expect(t.start('s')).toBeUndefined(); // 3 + 2
  });

  it('forgets delays older than the window: memory stays two rings of bucketNums numbers per key', () => {
    const { t, clock } = setup({ activeInFlight: 1000, windowMs: 1000, bucketNums: 10 });
    serial(t, clock, 'a', 100_000, 1);
    serial(t, clock, 'b', 10, 100);
    expect(t.share('b')).toBeCloseTo(1, 12);
    clock.advance(1000);
    expect(t.share('a')).toBe(0);
  });

  // The sums over every key are kept only while throttling is active and rebuilt when it turns on: the
  // second case turns it on and off as calls start and end (loadShare 1 rejects nothing).
  it.each([
    ['never active', { activeInFlight: 1e6 }],
    ['turning on and off', { activeInFlight: 3, releaseInFlight: 1, loadShare: 1 }],
  ])('computes H as a brute-force recomputation over the window does, %s', (_name, options) => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.integer({ min: 0, max: 300 }), fc.boolean()), {
          maxLength: 60,
        }),
        (ops) => {
          const clock = new ManualClock(0);
          const t = new LatencyThrottle({ ...options, windowMs: 1000, bucketNums: 10, now: clock.now });
          const open: [string, number][] = [];
          const done: [string, number, number][] = []; // key, end time, delay
          for (const [key, dt, finish] of ops) {
            clock.advance(dt);
            if (finish && open.length > 0) {
              const [k, at] = open.shift() as [string, number];
              t.end(k, at);
              done.push([k, clock.t, clock.t - at]);
            } else open.push([key, t.start(key) as number]);
          }
          const now = clock.t;
          const e = Math.floor(now / 100);
          const busy = (k?: string) =>
            done
              .filter(([dk, end]) => (k === undefined || dk === k) && Math.floor(end / 100) > e - 10)
              .reduce((s, d) => s + d[2], 0) +
            open.filter(([ok]) => k === undefined || ok === k).reduce((s, [, at]) => s + (now - at), 0);
          for (const k of ['a', 'b', 'c']) {
            const expected = busy() > 0 ? busy(k) / busy() : 0;
            expect(t.share(k)).toBeCloseTo(expected, 9);
          }
        },
      ),
    );
  });

  it.each([
    [{}, new OptionTypeError('latencyThrottle.activeInFlight', undefined, 'must be a number')],
    [{ activeInFlight: 0 }, new OptionRangeError('latencyThrottle.activeInFlight', 0, 'must be an integer >= 1')],
    [
      { activeInFlight: 10, releaseInFlight: 11 },
      new OptionRangeError('latencyThrottle.releaseInFlight', 11, 'must be an integer in [0, 10]'),
    ],
    [
      { activeInFlight: 10, loadShare: 2 },
      new OptionRangeError('latencyThrottle.loadShare', 2, 'must be a finite number in [0, 1]'),
    ],
    [
      { activeInFlight: 10, minDelayMs: -1 },
      new OptionRangeError('latencyThrottle.minDelayMs', -1, 'must be a finite number >= 0'),
    ],
    [{ activeInFlight: 10, now: 5 }, new OptionTypeError('latencyThrottle.now', 5, 'must be a function')],
    [
      { activeInFlight: 10, maxRejectProbability: '0.5' },
      new OptionTypeError('latencyThrottle.maxRejectProbability', '0.5', 'must be a number'),
    ],
  ])('refuses %j, naming the field', (options, error) => {
    expect(() => new LatencyThrottle(options as LatencyThrottleOptions)).toThrow(error);
  });

  it('refuses an unknown field, naming it', () => {
    expect(() => new LatencyThrottle({ activeInFlight: 1, capacity: 3 } as never)).toThrow(
      /latencyThrottle has an unknown field "capacity"/,
    );
  });
});

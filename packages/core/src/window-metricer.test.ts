import { ManualClock } from '@cbsuite/testkit/manual-clock.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WindowMetricer } from './window-metricer.js';

function makeWindow(clock: ManualClock, bucketTimeMs = 100, bucketNums = 100, trackSlow = false) {
  return new WindowMetricer({ bucketTimeMs, bucketNums, trackSlow, now: clock.now });
}

describe('WindowMetricer', () => {
  it('keeps running totals per outcome', () => {
    const clock = new ManualClock(0);
    const w = makeWindow(clock);
    w.recordSuccess(clock.t, false);
    w.recordSuccess(clock.t, false);
    w.recordFailure(clock.t, false);
    w.recordTimeout(clock.t, false);
    expect([w.successes(), w.failures(), w.timeouts(), w.samples()]).toEqual([2, 1, 1, 4]);
    expect(w.errorRate()).toBe(0.5);
    expect(w.slowCalls()).toBe(0);
  });

  it('covers the current bucket plus bucketNums - 1 before it', () => {
    const clock = new ManualClock(0);
    const w = makeWindow(clock, 100, 100);
    w.recordFailure(50, false); // bucket 0
    clock.t = 9_999; // bucket 99: bucket 0 is still the oldest bucket of the window
    expect(w.failures()).toBe(1);
    clock.t = 10_000; // bucket 100: bucket 0 falls out
    expect(w.failures()).toBe(0);
  });

  it('aligns buckets to the clock, not to the first record', () => {
    const clock = new ManualClock(0);
    const w = makeWindow(clock, 100, 100);
    w.recordSuccess(99, false); // bucket 0, recorded at its very end
    clock.t = 10_000;
    expect(w.successes()).toBe(0);
  });

  it('subtracts only the buckets that fell out', () => {
    const clock = new ManualClock(0);
    const w = makeWindow(clock, 100, 100);
    for (let b = 0; b < 100; b++) w.recordSuccess(b * 100, false);
    expect(w.successes()).toBe(100);
    clock.t = 100 * 100 + 250; // three buckets later: buckets 0, 1 and 2 are gone
    expect(w.successes()).toBe(97);
  });

  it('clears everything after an idle gap longer than the window', () => {
    const clock = new ManualClock(0);
    const w = makeWindow(clock, 100, 100, true);
    w.recordFailure(0, true);
    w.recordSuccess(500, true);
    clock.t = 1_000_000;
    expect([w.successes(), w.failures(), w.slowCalls()]).toEqual([0, 0, 0]);
    w.recordSuccess(clock.t, false);
    expect(w.successes()).toBe(1);
  });

  it('records into the latest bucket when the clock goes backwards', () => {
    const clock = new ManualClock(5_000);
    const w = makeWindow(clock, 100, 100);
    w.recordSuccess(5_000, false);
    w.recordFailure(1_000, false);
    expect([w.successes(), w.failures()]).toEqual([1, 1]);
    clock.t = 5_000 + 10_000; // the bucket of 5_000 ages out, and the late record with it
    expect(w.samples()).toBe(0);
  });

  it('counts slow calls only when tracking them', () => {
    const clock = new ManualClock(0);
    const untracked = makeWindow(clock, 100, 100, false);
    untracked.recordSuccess(0, true);
    expect(untracked.slowCalls()).toBe(0);
    const tracked = makeWindow(clock, 100, 100, true);
    tracked.recordSuccess(0, true);
    tracked.recordFailure(0, true);
    tracked.recordSuccess(0, false);
    expect(tracked.slowCalls()).toBe(2);
    expect(tracked.slowRate()).toBeCloseTo(2 / 3);
  });

  it('tracks the current run of errors, not windowed', () => {
    const clock = new ManualClock(1_000);
    const w = makeWindow(clock);
    expect([w.conseErrors(), w.conseTimeMs()]).toEqual([0, 0]);
    w.recordFailure(1_000, false);
    clock.t = 1_300;
    w.recordTimeout(1_300, false);
    clock.t = 20_000; // the errors left the window; the run did not end
    expect([w.samples(), w.conseErrors(), w.conseTimeMs()]).toEqual([0, 2, 19_000]);
    w.recordSuccess(20_000, false);
    expect([w.conseErrors(), w.conseTimeMs()]).toEqual([0, 0]);
  });

  it('keeps cumulative totals that neither rotate nor reset', () => {
    const clock = new ManualClock(0);
    const w = makeWindow(clock);
    w.recordSuccess(0, false);
    w.recordFailure(0, false);
    w.recordTimeout(0, false);
    clock.t = 60_000;
    w.reset();
    w.recordSuccess(60_000, false);
    expect(w.totals()).toEqual({ successes: 2, failures: 1, timeouts: 1 });
    expect(w.samples()).toBe(1);
  });

  it('reset empties the window and ends the run of errors (gopkg keeps errStart; we do not)', () => {
    const clock = new ManualClock(1_000);
    const w = makeWindow(clock);
    w.recordFailure(1_000, false);
    w.recordSuccess(1_000, false);
    w.recordFailure(1_000, false);
    w.reset();
    expect([w.samples(), w.conseErrors()]).toEqual([0, 0]);
    clock.t = 9_000;
    w.recordFailure(9_000, false);
    expect(w.conseTimeMs()).toBe(0);
    clock.t = 9_500;
    expect(w.conseTimeMs()).toBe(500);
  });

  type Kind = 's' | 'f' | 't';
  const event = fc.record({
    advance: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 250 }), fc.integer({ min: 0, max: 12_000 })),
    kind: fc.constantFrom<Kind>('s', 'f', 't'),
    slow: fc.boolean(),
  });

  it('matches a brute-force recount of the same window, and of its newest buckets, for any event sequence', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10_000_000 }),
        fc.integer({ min: 1, max: 500 }),
        fc.integer({ min: 100, max: 130 }),
        fc.array(event, { maxLength: 400 }),
        fc.double({ min: 0, max: 1.2, noNaN: true }),
        (start, bucketTimeMs, bucketNums, events, recentShare) => {
          const clock = new ManualClock(start);
          const w = makeWindow(clock, bucketTimeMs, bucketNums, true);
          const log: { t: number; kind: Kind; slow: boolean }[] = [];
          for (const e of events) {
            clock.advance(e.advance);
            if (e.kind === 's') w.recordSuccess(clock.t, e.slow);
            else if (e.kind === 'f') w.recordFailure(clock.t, e.slow);
            else w.recordTimeout(clock.t, e.slow);
            log.push({ t: clock.t, kind: e.kind, slow: e.slow });

            const epoch = Math.floor(clock.t / bucketTimeMs);
            const inWindow = log.filter((x) => Math.floor(x.t / bucketTimeMs) > epoch - bucketNums);
            const count = (k: Kind) => inWindow.filter((x) => x.kind === k).length;
            expect(w.successes()).toBe(count('s'));
            expect(w.failures()).toBe(count('f'));
            expect(w.timeouts()).toBe(count('t'));
            expect(w.slowCalls()).toBe(inWindow.filter((x) => x.slow).length);
            for (const n of [w.successes(), w.failures(), w.timeouts(), w.slowCalls()]) {
              expect(n).toBeGreaterThanOrEqual(0);
            }

            const ms = recentShare * bucketTimeMs * bucketNums;
            const k = Math.min(bucketNums, Math.max(1, Math.ceil(ms / bucketTimeMs)));
            const newest = log.filter((x) => Math.floor(x.t / bucketTimeMs) > epoch - k);
            expect(w.recent(clock.t, ms)).toEqual({
              successes: newest.filter((x) => x.kind === 's').length,
              failures: newest.filter((x) => x.kind === 'f').length,
              timeouts: newest.filter((x) => x.kind === 't').length,
              slowCalls: newest.filter((x) => x.slow).length,
            });
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('never reports negative counts, whatever the clock does', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ t: fc.integer({ min: 0, max: 100_000 }), kind: fc.constantFrom<Kind>('s', 'f', 't') }), {
          maxLength: 300,
        }),
        (events) => {
          const clock = new ManualClock(0);
          const w = makeWindow(clock);
          for (const e of events) {
            clock.t = e.t;
            if (e.kind === 's') w.recordSuccess(e.t, false);
            else if (e.kind === 'f') w.recordFailure(e.t, false);
            else w.recordTimeout(e.t, false);
            expect(Math.min(w.successes(), w.failures(), w.timeouts())).toBeGreaterThanOrEqual(0);
            expect(w.samples()).toBeLessThanOrEqual(events.length);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

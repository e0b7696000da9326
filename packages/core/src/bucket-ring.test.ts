import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BucketRing } from './bucket-ring.js';

describe('BucketRing', () => {
  it('sums what was added in the window and forgets buckets that left it', () => {
    const r = new BucketRing(100, 3);
    r.add(0, 1, 10);
    r.add(150, 2, 20);
    r.add(250, 4, 40);
    expect([r.totalA, r.totalB]).toEqual([7, 70]);
    expect(r.recent(250, 2)).toEqual([6, 60]);
    r.rotate(300);
    expect([r.totalA, r.totalB]).toEqual([6, 60]);
    r.rotate(10_000);
    expect([r.totalA, r.totalB]).toEqual([0, 0]);
    expect(r.isEmpty()).toBe(true);
  });

  it('a clock that steps back clears nothing', () => {
    const r = new BucketRing(100, 3);
    r.add(500, 1, 1);
    r.rotate(100);
    expect(r.totalA).toBe(1);
  });

  it('matches a brute-force sum over the window for any sequence of additions', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.integer({ min: 0, max: 700 }),
            fc.integer({ min: 0, max: 5 }),
            fc.double({ min: 0, max: 1e4, noNaN: true }),
          ),
          {
            maxLength: 200,
          },
        ),
        fc.integer({ min: 1, max: 20 }),
        (steps, buckets) => {
          const bucketMs = 50;
          const r = new BucketRing(bucketMs, buckets);
          const log: [number, number, number][] = [];
          let t = 0;
          for (const [dt, a, b] of steps) {
            t += dt;
            r.add(t, a, b);
            log.push([Math.floor(t / bucketMs), a, b]);
            const e = Math.floor(t / bucketMs);
            const inWindow = log.filter(([le]) => le > e - buckets);
            const sa = inWindow.reduce((s, [, a2]) => s + a2, 0);
            const sb = inWindow.reduce((s, [, , b2]) => s + b2, 0);
            expect(r.totalA).toBe(sa);
            expect(r.totalB).toBeCloseTo(sb, 3);
          }
        },
      ),
    );
  });

  it('becomes the bucket-by-bucket sum of other rings, moved to the same time', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(2), fc.integer({ min: 0, max: 120 }), fc.integer({ min: 0, max: 9 })), {
          maxLength: 80,
        }),
        fc.integer({ min: 0, max: 400 }),
        (steps, gap) => {
          const rings = [0, 1, 2].map(() => new BucketRing(50, 6));
          const together = new BucketRing(50, 6);
          let t = 0;
          for (const [i, dt, b] of steps) {
            t += dt;
            (rings[i] as BucketRing).add(t, 1, b);
            together.add(t, 1, b);
          }
          t += gap;
          const sum = new BucketRing(50, 6);
          sum.add(0, 5, 5); // overwritten
          sum.setToSumOf(rings, t);
          together.rotate(t);
          expect([sum.totalA, sum.totalB]).toEqual([together.totalA, together.totalB]);
          expect(sum.recent(t, 2)).toEqual(together.recent(t, 2));
          sum.add(t, 1, 1);
          together.add(t, 1, 1);
          expect([sum.totalA, sum.totalB]).toEqual([together.totalA, together.totalB]);
        },
      ),
    );
  });
});

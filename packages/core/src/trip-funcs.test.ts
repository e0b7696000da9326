import { describe, expect, it } from 'vitest';
import { MetricsSnapshot } from './metricer.js';
import {
  anyTripFunc,
  consecutiveTripFunc,
  consecutiveTripFuncV2,
  rateTripFunc,
  slowRateTripFunc,
  thresholdTripFunc,
} from './trip-funcs.js';

// MetricsSnapshot(successes, failures, timeouts, slowCalls, conseErrors, conseTimeMs)
const m = (s: number, f: number, t: number, slow = 0, conse = 0, conseTime = 0) =>
  new MetricsSnapshot(s, f, t, slow, conse, conseTime);

describe('thresholdTripFunc: failures + timeouts >= threshold', () => {
  it.each([
    [10, m(100, 9, 0), false],
    [10, m(0, 10, 0), true],
    [10, m(0, 6, 4), true],
    [10, m(0, 5, 4), false],
    [10, m(0, 11, 0), true],
    [0, m(0, 0, 0), true],
  ])('threshold %i, %o → %s', (threshold, metrics, trips) => {
    expect(thresholdTripFunc(threshold)(metrics)).toBe(trips);
  });
});

describe('consecutiveTripFunc: conseErrors >= threshold', () => {
  it.each([
    [5, m(0, 0, 0, 0, 4), false],
    [5, m(0, 0, 0, 0, 5), true],
    [5, m(0, 0, 0, 0, 6), true],
    [1, m(0, 0, 0, 0, 1), true],
  ])('threshold %i, %o → %s', (threshold, metrics, trips) => {
    expect(consecutiveTripFunc(threshold)(metrics)).toBe(trips);
  });
});

describe('rateTripFunc: samples >= minSamples && errorRate >= rate', () => {
  it.each([
    // minSamples boundary (>=)
    [0.5, 200, m(100, 99, 0), false], // 199 samples
    [0.5, 200, m(100, 100, 0), true], // 200 samples, rate exactly 0.5
    [0.5, 200, m(100, 50, 50), true], // timeouts count as errors
    // rate boundary (>=)
    [0.5, 200, m(101, 99, 0), false], // rate 0.495
    [0.5, 200, m(99, 101, 0), true],
    [0.3, 10, m(7, 3, 0), true],
    [0.3, 10, m(8, 2, 0), false],
    [0, 0, m(0, 0, 0), true], // rate 0 >= 0
    [1, 1, m(0, 1, 0), true],
    [1, 1, m(1, 1, 0), false],
  ])('rate %f, minSamples %i, %o → %s', (rate, minSamples, metrics, trips) => {
    expect(rateTripFunc(rate, minSamples)(metrics)).toBe(trips);
  });
});

describe('consecutiveTripFuncV2', () => {
  // (rate, minSamples, durationMs, durationSamples, conseErrors)
  const f = consecutiveTripFuncV2(0.5, 100, 5_000, 10, 50);
  it.each([
    ['rate branch at both boundaries', m(50, 50, 0), true],
    ['rate branch one sample short', m(50, 49, 0), false],
    ['duration branch: conseErrors and conseTime at their boundaries', m(1000, 10, 0, 0, 10, 5_000), true],
    ['duration branch: conseTime one ms short', m(1000, 10, 0, 0, 10, 4_999), false],
    [
      'duration branch: conseErrors one short (gopkg compares conseErrors, not samples)',
      m(1000, 9, 0, 0, 9, 9_000),
      false,
    ],
    ['consecutive branch at its boundary', m(1000, 50, 0, 0, 50, 0), true],
    ['consecutive branch one short', m(1000, 49, 0, 0, 49, 0), false],
  ])('%s', (_name, metrics, trips) => {
    expect(f(metrics)).toBe(trips);
  });

  it('turns the duration branch off with durationMs 0 and the consecutive branch off with conseErrors 0', () => {
    const g = consecutiveTripFuncV2(1, 1_000_000, 0, 0, 0);
    expect(g(m(0, 10_000, 0, 0, 10_000, 60_000))).toBe(false);
  });
});

describe('slowRateTripFunc: samples >= minSamples && slowRate >= rate', () => {
  it.each([
    [0.5, 10, m(10, 0, 0, 5), true],
    [0.5, 10, m(10, 0, 0, 4), false],
    [0.5, 10, m(9, 0, 0, 9), false],
    [0.5, 10, m(5, 5, 0, 5), true],
  ])('rate %f, minSamples %i, %o → %s', (rate, minSamples, metrics, trips) => {
    expect(slowRateTripFunc(rate, minSamples)(metrics)).toBe(trips);
  });
});

describe('anyTripFunc', () => {
  it('trips when one of its functions trips', () => {
    const f = anyTripFunc(rateTripFunc(0.5, 10), slowRateTripFunc(0.8, 10));
    expect(f(m(10, 0, 0, 8))).toBe(true);
    expect(f(m(5, 5, 0, 0))).toBe(true);
    expect(f(m(9, 1, 0, 1))).toBe(false);
  });
});

describe('argument validation', () => {
  const calls: [string, () => unknown, RegExp][] = [
    ['threshold NaN', () => thresholdTripFunc(Number.NaN), /thresholdTripFunc threshold must be a number, got NaN/],
    ['threshold negative', () => thresholdTripFunc(-1), /thresholdTripFunc threshold must be an integer >= 0, got -1/],
    ['threshold fraction', () => thresholdTripFunc(1.5), /got 1\.5/],
    ['threshold string', () => thresholdTripFunc('3' as never), /must be a number, got "3"/],
    ['consecutive Infinity', () => consecutiveTripFunc(Number.POSITIVE_INFINITY), /got Infinity/],
    ['rate above 1', () => rateTripFunc(1.5, 10), /rateTripFunc rate must be a finite number in \[0, 1\], got 1\.5/],
    ['rate negative', () => rateTripFunc(-0.1, 10), /got -0\.1/],
    ['rate NaN', () => rateTripFunc(Number.NaN, 10), /rateTripFunc rate must be a number, got NaN/],
    ['minSamples fraction', () => rateTripFunc(0.5, 2.5), /rateTripFunc minSamples must be an integer >= 0, got 2\.5/],
    ['minSamples null', () => rateTripFunc(0.5, null as never), /must be a number, got null/],
    [
      'V2 durationMs negative',
      () => consecutiveTripFuncV2(0.5, 1, -5, 1, 1),
      /durationMs must be a finite number >= 0, got -5/,
    ],
    ['V2 durationSamples fraction', () => consecutiveTripFuncV2(0.5, 1, 5, 0.5, 1), /durationSamples/],
    ['V2 conseErrors negative', () => consecutiveTripFuncV2(0.5, 1, 5, 1, -1), /conseErrors/],
    ['slow rate above 1', () => slowRateTripFunc(2, 1), /slowRateTripFunc rate/],
    ['anyTripFunc non-function', () => anyTripFunc(rateTripFunc(0.5, 1), 3 as never), /argument 1 must be a TripFunc/],
  ];
  it.each(calls)('%s', (_name, call, message) => {
    expect(call).toThrow(message);
  });

  it('uses TypeError for the wrong type and RangeError for a value out of range', () => {
    expect(() => rateTripFunc('0.5' as never, 1)).toThrow(TypeError);
    expect(() => rateTripFunc(2, 1)).toThrow(RangeError);
    expect(() => rateTripFunc(Number.NaN, 1)).toThrow(RangeError);
  });
});

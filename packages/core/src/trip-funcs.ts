import type { Metricer } from './metricer.js';
import { OptionTypeError } from './option-error.js';
import { checkInteger, checkNumber } from './validate.js';

/**
 * Decides whether a breaker should trip. Called after a failure or timeout is
 * recorded in the CLOSED state (and after a slow success when slow calls are
 * tracked), never on a timer.
 */
export type TripFunc = (m: Metricer) => boolean;

/** Returns the trip func for a key; resolved on every evaluation, so config changes apply at once. */
export type TripFuncWithKey = (key: string) => TripFunc;

/** Trips when `failures + timeouts >= threshold` in the window. */
export function thresholdTripFunc(threshold: number): TripFunc {
  checkInteger('thresholdTripFunc threshold', threshold, 0);
  return (m) => m.failures() + m.timeouts() >= threshold;
}

/** Trips when `conseErrors >= threshold` (errors since the last recorded success). */
export function consecutiveTripFunc(threshold: number): TripFunc {
  checkInteger('consecutiveTripFunc threshold', threshold, 0);
  return (m) => m.conseErrors() >= threshold;
}

/**
 * Trips when `samples >= minSamples && errorRate >= rate`; both comparisons are
 * inclusive. Kitex's `CBConfig{errRate, minSample}` is this function.
 */
export function rateTripFunc(rate: number, minSamples: number): TripFunc {
  checkNumber('rateTripFunc rate', rate, 0, 1);
  checkInteger('rateTripFunc minSamples', minSamples, 0);
  return (m) => m.samples() >= minSamples && m.errorRate() >= rate;
}

/**
 * Trips when any of these holds (gopkg's `ConsecutiveTripFuncV2`, same order):
 * 1. `samples >= minSamples && errorRate >= rate`;
 * 2. `durationMs > 0 && conseErrors >= durationSamples && conseTimeMs >= durationMs`
 *    (the gopkg doc says "samples >= durationSamples"; its code, and this
 *    function, compare the consecutive errors);
 * 3. `conseErrors > 0 && conseErrors >= conseErrors` (a run of errors).
 */
export function consecutiveTripFuncV2(
  rate: number,
  minSamples: number,
  durationMs: number,
  durationSamples: number,
  conseErrors: number,
): TripFunc {
  checkNumber('consecutiveTripFuncV2 rate', rate, 0, 1);
  checkInteger('consecutiveTripFuncV2 minSamples', minSamples, 0);
  checkNumber('consecutiveTripFuncV2 durationMs', durationMs, 0);
  checkInteger('consecutiveTripFuncV2 durationSamples', durationSamples, 0);
  checkInteger('consecutiveTripFuncV2 conseErrors', conseErrors, 0);
  return (m) => {
    if (m.samples() >= minSamples && m.errorRate() >= rate) return true;
    const conse = m.conseErrors();
    if (durationMs > 0 && conse >= durationSamples && m.conseTimeMs() >= durationMs) return true;
    return conseErrors > 0 && conse >= conseErrors;
  };
}

/**
 * Trips when `samples >= minSamples && slowRate >= rate`: the share of calls
 * slower than the breaker's `slowCallDurationMs` (the latency-based trip of the
 * WSO2 proposal; resilience4j's `slowCallRateThreshold`). Needs
 * `slowCallDurationMs` to be set; without it no call is slow and this never trips.
 */
export function slowRateTripFunc(rate: number, minSamples: number): TripFunc {
  checkNumber('slowRateTripFunc rate', rate, 0, 1);
  checkInteger('slowRateTripFunc minSamples', minSamples, 0);
  return (m) => m.samples() >= minSamples && m.slowRate() >= rate;
}

/** Trips when any of `funcs` trips (for example an error rate or a slow-call rate). */
export function anyTripFunc(...funcs: TripFunc[]): TripFunc {
  funcs.forEach((f, i) => {
    if (typeof f !== 'function') throw new OptionTypeError(`anyTripFunc argument ${i}`, f, 'must be a TripFunc');
  });
  return (m) => {
    for (const f of funcs) if (f(m)) return true;
    return false;
  };
}

import { type BackoffFunc, backoffAt, type ExponentialBackoffOptions, exponentialBackoff } from './backoff.js';
import { type Clock, loopClock } from './clock.js';
import { OptionTypeError } from './option-error.js';
import type { KeyedStateChangeHandler } from './transition.js';
import { rateTripFunc, type TripFunc, type TripFuncWithKey } from './trip-funcs.js';
import { checkBoolean, checkFunction, checkInteger, checkKeys, checkNumber } from './validate.js';
import type { WindowConfig } from './window-metricer.js';

/**
 * Options of a `Breaker` or a `Panel` (gopkg's `Options`; durations in ms).
 * Defaults keep gopkg's behaviour; the options after `now` are additions, off
 * by default.
 */
export interface BreakerOptions {
  /** Time each bucket covers. Default 100; 0 means the default (gopkg). */
  readonly bucketTimeMs?: number;
  /** Buckets in the window; at least 100, as gopkg requires. Default 100 (a 10 s window); 0 means the default. */
  readonly bucketNums?: number;
  /** Time OPEN before the next call is admitted as a probe. Default 5000; 0 means the default (gopkg). */
  readonly coolingTimeoutMs?: number;
  /** HALF_OPEN admits at most one call per this many ms. Default 200; 0 means the default (gopkg). */
  readonly detectTimeoutMs?: number;
  /** Probe successes that close a HALF_OPEN breaker. Default 2; 0 means the default (gopkg). */
  readonly halfOpenSuccesses?: number;
  /**
   * Trip func used by `fail()` and `timeout()`. Default `rateTripFunc(0.5, 200)`,
   * Kitex's default `CBConfig`. (A bare gopkg panel has none and never trips.)
   */
  readonly shouldTrip?: TripFunc;
  /**
   * Trip func per key, resolved on every evaluation; wins over `shouldTrip`.
   * A key it returns no function for never trips (gopkg).
   */
  readonly shouldTripWithKey?: TripFuncWithKey;
  /** The clock for every time read. Default {@link loopClock}. */
  readonly now?: Clock;

  /**
   * Cooling backoff across failed probes: a {@link BackoffFunc}, or options
   * of {@link exponentialBackoff}, or `true` for its defaults (×2, capped at
   * 60 s, ±20 % jitter). Resets when the breaker closes. Default: none, every
   * open cools for `coolingTimeoutMs` (Kitex).
   */
  readonly coolingBackoff?: BackoffFunc | ExponentialBackoffOptions | boolean;
  /** Random source for jitter, in [0, 1). Default `Math.random`. */
  readonly random?: () => number;
  /**
   * Most probes in flight at once in HALF_OPEN. Default Infinity (Kitex admits
   * one call per `detectTimeoutMs` whatever is in flight).
   */
  readonly halfOpenMaxProbes?: number;
  /**
   * Only outcomes that carry a probe's permit (from `acquire()` or
   * `execute()`) move a HALF_OPEN breaker; late outcomes of calls admitted
   * before the trip are recorded but do not close or re-open it. Default
   * false (Kitex counts any success in HALF_OPEN).
   */
  readonly strictProbes?: boolean;
  /**
   * When probes are tracked (`halfOpenMaxProbes` finite or `strictProbes`), a
   * probe that has not reported back after this long is released, so a
   * breaker cannot wedge in HALF_OPEN. Default 10_000.
   */
  readonly halfOpenProbeTimeoutMs?: number;
  /**
   * Calls whose latency is at least this many ms are counted as slow. Slow
   * successes then also evaluate the trip func, and a slow probe counts as a
   * failed probe. Default: not tracked.
   */
  readonly slowCallDurationMs?: number;
  /** Called with any error a state-change handler throws. Default: `console.error`. */
  readonly onHandlerError?: (err: unknown) => void;
}

/** The option names a `Breaker` accepts (derived from the type, so none can be left out). */
export const BREAKER_OPTION_NAMES = Object.keys({
  bucketTimeMs: true,
  bucketNums: true,
  coolingTimeoutMs: true,
  detectTimeoutMs: true,
  halfOpenSuccesses: true,
  shouldTrip: true,
  shouldTripWithKey: true,
  now: true,
  coolingBackoff: true,
  random: true,
  halfOpenMaxProbes: true,
  strictProbes: true,
  halfOpenProbeTimeoutMs: true,
  slowCallDurationMs: true,
  onHandlerError: true,
} satisfies Record<keyof BreakerOptions, true>) as readonly (keyof BreakerOptions)[];

/** How a panel builds its breakers without validating options again (not for users). */
export interface BreakerInit {
  readonly key: string;
  readonly options: ResolvedOptions;
  readonly onStateChange: KeyedStateChangeHandler | undefined;
}

/** Validated options with defaults applied, shared by the breakers of a panel. */
export interface ResolvedOptions extends WindowConfig {
  readonly coolingTimeoutMs: number;
  readonly detectTimeoutMs: number;
  readonly halfOpenSuccesses: number;
  readonly shouldTrip: TripFunc;
  readonly shouldTripWithKey: TripFuncWithKey | undefined;
  readonly coolingBackoff: BackoffFunc | undefined;
  readonly random: () => number;
  readonly halfOpenMaxProbes: number;
  readonly strictProbes: boolean;
  readonly halfOpenProbeTimeoutMs: number;
  /** Infinity when slow calls are not tracked. */
  readonly slowCallDurationMs: number;
  /** Whether HALF_OPEN keeps a list of probes in flight. */
  readonly trackProbes: boolean;
  readonly onHandlerError: (err: unknown) => void;
}

export const DEFAULT_BUCKET_TIME_MS = 100;
export const DEFAULT_BUCKET_NUMS = 100;
export const MIN_BUCKET_NUMS = 100;
export const DEFAULT_COOLING_TIMEOUT_MS = 5000;
export const DEFAULT_DETECT_TIMEOUT_MS = 200;
export const DEFAULT_HALF_OPEN_SUCCESSES = 2;
export const DEFAULT_PROBE_TIMEOUT_MS = 10_000;

const DAY_MS = 86_400_000;
const defaultTrip = rateTripFunc(0.5, 200);
const reportHandlerError = (err: unknown) => console.error('[cbsuite] a state-change handler threw:', err);

/**
 * Validates `options` and applies defaults. Throws an `OptionTypeError` or
 * `OptionRangeError` that names the option and the value it got (`null`
 * included: only `undefined` means "not set").
 */
export function resolveOptions(
  options: BreakerOptions | undefined,
  names: readonly string[] = BREAKER_OPTION_NAMES,
  what = 'Breaker options',
  path?: string,
): ResolvedOptions {
  const o = checkKeys(what, options === undefined ? {} : options, names, path);
  const at = (name: string) => (path === undefined ? name : `${path}.${name}`);
  const num = (name: string, dflt: number, check: (n: string, v: unknown) => number) =>
    o[name] === undefined ? dflt : check(at(name), o[name]);
  // gopkg's options: 0, Go's zero value, means the default.
  const gopkg = (name: string, dflt: number, check: (n: string, v: unknown) => number) =>
    o[name] === 0 ? dflt : num(name, dflt, check);

  const bucketTimeMs = gopkg('bucketTimeMs', DEFAULT_BUCKET_TIME_MS, (n, v) => checkInteger(n, v, 1, DAY_MS));
  const bucketNums = gopkg('bucketNums', DEFAULT_BUCKET_NUMS, (n, v) => checkInteger(n, v, MIN_BUCKET_NUMS, 100_000));
  const coolingTimeoutMs = gopkg('coolingTimeoutMs', DEFAULT_COOLING_TIMEOUT_MS, (n, v) =>
    checkNumber(n, v, 0, DAY_MS),
  );
  const detectTimeoutMs = gopkg('detectTimeoutMs', DEFAULT_DETECT_TIMEOUT_MS, (n, v) => checkNumber(n, v, 0, DAY_MS));
  const halfOpenSuccesses = gopkg('halfOpenSuccesses', DEFAULT_HALF_OPEN_SUCCESSES, (n, v) => checkInteger(n, v, 1));
  const halfOpenMaxProbes = num('halfOpenMaxProbes', Number.POSITIVE_INFINITY, (n, v) =>
    checkInteger(n, v, 1, Number.POSITIVE_INFINITY),
  );
  const halfOpenProbeTimeoutMs = num('halfOpenProbeTimeoutMs', DEFAULT_PROBE_TIMEOUT_MS, (n, v) =>
    checkNumber(n, v, 1, DAY_MS),
  );
  const slowCallDurationMs = num('slowCallDurationMs', Number.POSITIVE_INFINITY, (n, v) =>
    checkNumber(n, v, 0, DAY_MS),
  );
  const strictProbes = o.strictProbes === undefined ? false : checkBoolean(at('strictProbes'), o.strictProbes);

  const fn = <F extends (...args: never[]) => unknown>(name: string): F | undefined =>
    o[name] === undefined ? undefined : checkFunction<F>(at(name), o[name]);
  const shouldTrip = fn<TripFunc>('shouldTrip') ?? defaultTrip;
  const shouldTripWithKey = orNeverTrip(fn<TripFuncWithKey>('shouldTripWithKey'));
  const now = fn<Clock>('now') ?? loopClock;
  const random = fn<() => number>('random') ?? Math.random;
  const onHandlerError = fn<(err: unknown) => void>('onHandlerError') ?? reportHandlerError;

  return Object.freeze({
    bucketTimeMs,
    bucketNums,
    trackSlow: slowCallDurationMs !== Number.POSITIVE_INFINITY,
    now,
    coolingTimeoutMs,
    detectTimeoutMs,
    halfOpenSuccesses,
    shouldTrip,
    shouldTripWithKey,
    coolingBackoff: resolveBackoff(o.coolingBackoff, at('coolingBackoff')),
    random,
    halfOpenMaxProbes,
    strictProbes,
    halfOpenProbeTimeoutMs,
    slowCallDurationMs,
    trackProbes: strictProbes || halfOpenMaxProbes !== Number.POSITIVE_INFINITY,
    onHandlerError,
  });
}

const neverTrip: TripFunc = () => false;

// gopkg asks no trip func when a key has none: such a key never trips.
function orNeverTrip(f: TripFuncWithKey | undefined): TripFuncWithKey | undefined {
  if (f === undefined) return undefined;
  return (key) => {
    const trip = f(key);
    return typeof trip === 'function' ? trip : neverTrip;
  };
}

function resolveBackoff(value: unknown, path: string): BackoffFunc | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return exponentialBackoff();
  if (typeof value === 'function') return value as BackoffFunc;
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    return backoffAt(value as ExponentialBackoffOptions, path);
  }
  throw new OptionTypeError(path, value, 'must be a BackoffFunc, exponentialBackoff options or a boolean');
}

/** How long an open with `attempt` failed probes before it cools, in ms: the backoff's answer, or `coolingTimeoutMs`. */
export function coolingFor(attempt: number, o: ResolvedOptions): number {
  const base = o.coolingTimeoutMs;
  if (o.coolingBackoff === undefined) return base;
  const ms = o.coolingBackoff(attempt, base, o.random);
  // A user's backoff function must not be able to wedge the breaker open.
  return ms >= 0 && ms !== Number.POSITIVE_INFINITY ? ms : base;
}

/** The trip func in force for `key`, resolved on every evaluation so that config changes apply at once. */
export function tripFuncOf(key: string, o: ResolvedOptions): TripFunc {
  return o.shouldTripWithKey === undefined ? o.shouldTrip : o.shouldTripWithKey(key);
}

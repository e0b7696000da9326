import { type Clock, loopClock } from './clock.js';
import { KeyedStates } from './keyed-states.js';
import { OptionTypeError } from './option-error.js';
import { checkFunction, checkInteger, checkKeys, checkNumber } from './validate.js';

/** An adaptive limit that follows measured latency (Netflix concurrency-limits' Gradient2, with drops counted). */
export interface AdaptiveLimitOptions {
  /** The limit before any sample. Default 20. */
  readonly initialLimit?: number;
  /** Floor of the limit. Default 1. */
  readonly minLimit?: number;
  /** Ceiling of the limit. Default 200. */
  readonly maxLimit?: number;
  /** How far each sample moves the limit toward its target, in (0, 1]. Default 0.2. */
  readonly smoothing?: number;
  /** Latency inflation tolerated before the limit shrinks (short over long average), >= 1. Default 1.5. */
  readonly rttTolerance?: number;
  /** Headroom added to the target each sample. Default 4. */
  readonly queueSize?: number;
  /** Samples the long latency average spans. Default 600. */
  readonly longWindow?: number;
  /** Factor a dropped call (timed out, refused for overload) multiplies the limit by. Default 0.9. */
  readonly dropFactor?: number;
}

/** Options of a {@link ConcurrencyLimit}: a fixed `maxConcurrent`, an `adaptive` limit, or both (the fixed one caps). */
export interface ConcurrencyLimitOptions {
  /** Most calls in flight per key; calls beyond it fail fast, never queued. */
  readonly maxConcurrent?: number;
  /** A limit per key that follows latency, between `minLimit` and `maxLimit` (and `maxConcurrent`). */
  readonly adaptive?: AdaptiveLimitOptions;
  /** Clock, ms. Default `loopClock`. */
  readonly now?: Clock;
}

const NAMES = Object.keys({ maxConcurrent: true, adaptive: true, now: true } satisfies Record<
  keyof ConcurrencyLimitOptions,
  true
>);
const ADAPTIVE_NAMES = Object.keys({
  initialLimit: true,
  minLimit: true,
  maxLimit: true,
  smoothing: true,
  rttTolerance: true,
  queueSize: true,
  longWindow: true,
  dropFactor: true,
} satisfies Record<keyof AdaptiveLimitOptions, true>);

/** How a call held by a concurrency limit ended. */
export type LimitOutcome = 'success' | 'dropped' | 'ignored';

interface KeyState {
  inFlight: number;
  limit: number;
  /** Long latency average and samples so far. */
  longRtt: number;
  samples: number;
  rejections: number;
}

/**
 * A concurrency limit per key, after cockatiel's bulkhead (without a queue)
 * and Netflix concurrency-limits: a call beyond the key's limit fails fast.
 * With `adaptive`, each completed call's latency moves the limit (Gradient2):
 *
 * ```text
 * long    = mean of the first 10 latencies, then an EMA over longWindow samples
 * target  = limit × clamp(rttTolerance × long / rtt, 0.5, 1) + queueSize
 * limit   = clamp(limit × (1 − smoothing) + target × smoothing, minLimit, maxLimit)
 * dropped = limit × dropFactor (a timeout or an overload refusal: Gradient2 alone ignores them)
 * ```
 *
 * Samples taken while fewer than half the limit were in flight leave it
 * alone (the caller, not the backend, was the bottleneck).
 */
export class ConcurrencyLimit {
  private readonly states = new KeyedStates<KeyState>(() => ({
    inFlight: 0,
    limit: this.adaptive === undefined ? this.max : this.adaptive.initialLimit,
    longRtt: 0,
    samples: 0,
    rejections: 0,
  }));

  private readonly max: number;
  private readonly adaptive: Required<AdaptiveLimitOptions> | undefined;
  private readonly now: Clock;

  /** @throws OptionTypeError/OptionRangeError naming a bad option. */
  constructor(options: ConcurrencyLimitOptions, path = 'concurrencyLimit') {
    const o = checkKeys(path, options, NAMES, path) as ConcurrencyLimitOptions;
    const at = (n: string) => `${path}.${n}`;
    this.max =
      o.maxConcurrent === undefined
        ? Number.POSITIVE_INFINITY
        : checkInteger(at('maxConcurrent'), o.maxConcurrent, 1, Number.POSITIVE_INFINITY);
    this.now = o.now === undefined ? loopClock : checkFunction<Clock>(at('now'), o.now);
    if (o.adaptive !== undefined) this.adaptive = resolveAdaptive(o.adaptive, at('adaptive'), this.max);
    else if (o.maxConcurrent === undefined) {
      throw new OptionTypeError(path, options, 'must set maxConcurrent, adaptive, or both');
    }
  }

  /** Takes a slot for a call to `key`: its start time, to hand to `release()`, or undefined when the key is full. */
  acquire(key: string): number | undefined {
    const s = this.states.get(key);
    if (s.inFlight >= Math.floor(s.limit)) {
      s.rejections++;
      return undefined;
    }
    s.inFlight++;
    return this.now();
  }

  /** Gives back the slot of a call acquired at `startedAt`, with how it ended. */
  release(key: string, startedAt: number, outcome: LimitOutcome): void {
    const s = this.states.find(key);
    if (s === undefined || s.inFlight === 0) return;
    const inFlight = s.inFlight;
    s.inFlight--;
    const a = this.adaptive;
    if (a === undefined || outcome === 'ignored') return;
    if (outcome === 'dropped') {
      s.limit = Math.max(a.minLimit, s.limit * a.dropFactor);
      return;
    }
    const rtt = Math.max(1e-3, this.now() - startedAt);
    s.samples++;
    if (s.samples <= 10) s.longRtt += (rtt - s.longRtt) / s.samples;
    else s.longRtt += (2 / (a.longWindow + 1)) * (rtt - s.longRtt);
    // Recover faster after an overload: the long average decays toward a much shorter present.
    if (s.longRtt / rtt > 2) s.longRtt *= 0.95;
    if (inFlight < s.limit / 2) return;
    const gradient = Math.min(1, Math.max(0.5, (a.rttTolerance * s.longRtt) / rtt));
    const target = s.limit * gradient + a.queueSize;
    const next = s.limit * (1 - a.smoothing) + target * a.smoothing;
    s.limit = Math.min(a.maxLimit, Math.max(a.minLimit, next));
  }

  /** The limit of `key` now (its initial limit for a key never seen). */
  limit(key: string): number {
    const s = this.states.find(key);
    if (s !== undefined) return Math.floor(s.limit);
    return this.adaptive === undefined ? this.max : this.adaptive.initialLimit;
  }

  /** Calls of `key` in flight. */
  inFlight(key: string): number {
    return this.states.find(key)?.inFlight ?? 0;
  }

  /** The keys it holds state for. */
  keys(): IterableIterator<string> {
    return this.states.keys();
  }

  /** Calls rejected per key since each key was first seen. */
  rejections(): Map<string, number> {
    return this.states.rejections();
  }

  /** Forgets `key`. */
  remove(key: string): void {
    this.states.remove(key);
  }
}

function resolveAdaptive(value: unknown, path: string, max: number): Required<AdaptiveLimitOptions> {
  const o = checkKeys(path, value, ADAPTIVE_NAMES, path) as AdaptiveLimitOptions;
  const at = (n: string) => `${path}.${n}`;
  const maxLimit = o.maxLimit === undefined ? Math.min(200, max) : checkInteger(at('maxLimit'), o.maxLimit, 1, max);
  const minLimit = o.minLimit === undefined ? 1 : checkInteger(at('minLimit'), o.minLimit, 1, maxLimit);
  return {
    maxLimit,
    minLimit,
    initialLimit:
      o.initialLimit === undefined
        ? Math.min(maxLimit, Math.max(minLimit, 20))
        : checkInteger(at('initialLimit'), o.initialLimit, minLimit, maxLimit),
    smoothing: o.smoothing === undefined ? 0.2 : checkNumber(at('smoothing'), o.smoothing, Number.MIN_VALUE, 1),
    rttTolerance: o.rttTolerance === undefined ? 1.5 : checkNumber(at('rttTolerance'), o.rttTolerance, 1),
    queueSize: o.queueSize === undefined ? 4 : checkNumber(at('queueSize'), o.queueSize, 0),
    longWindow: o.longWindow === undefined ? 600 : checkInteger(at('longWindow'), o.longWindow, 1),
    dropFactor: o.dropFactor === undefined ? 0.9 : checkNumber(at('dropFactor'), o.dropFactor, 0, 1),
  };
}

import { BucketRing } from './bucket-ring.js';
import { type Clock, loopClock } from './clock.js';
import { KeyedStates } from './keyed-states.js';
import { checkFunction, checkInteger, checkKeys, checkNumber } from './validate.js';

/**
 * Options of a {@link LatencyThrottle}, after the WSO2 latency-throttling
 * proposal: shed a share of a slow dependency's calls while the process is
 * starving (too many calls in flight), in proportion to its share of the time
 * the process spends waiting.
 */
export interface LatencyThrottleOptions {
  /** Calls in flight across every key at which throttling turns on (the proposal's "threads blocked"). Required. */
  readonly activeInFlight: number;
  /** Calls in flight below which it turns off again. Default `floor(0.8 × activeInFlight)`. */
  readonly releaseInFlight?: number;
  /** A key whose share of the waiting `H` is above this may be throttled. Default 0.1. */
  readonly loadShare?: number;
  /** ...and only when its recent mean delay is above this, in ms. Default 50. */
  readonly minDelayMs?: number;
  /** The delay history, in ms. Default 60_000. */
  readonly windowMs?: number;
  /** Buckets of the history. Default 12 (5 s each). */
  readonly bucketNums?: number;
  /** Newest buckets the mean delay of `minDelayMs` is taken over. Default 2. */
  readonly latencyBuckets?: number;
  /** Calls (completed and in flight) a key needs in the history before it may be throttled. Default 20. */
  readonly minSamples?: number;
  /** Cap on the probability of a rejection, so a throttled key keeps being measured. Default 0.9. */
  readonly maxRejectProbability?: number;
  /** Clock, ms. Default `loopClock`. */
  readonly now?: Clock;
  /** Random numbers in [0, 1). Default `Math.random`. */
  readonly random?: () => number;
}

const NAMES = Object.keys({
  activeInFlight: true,
  releaseInFlight: true,
  loadShare: true,
  minDelayMs: true,
  windowMs: true,
  bucketNums: true,
  latencyBuckets: true,
  minSamples: true,
  maxRejectProbability: true,
  now: true,
  random: true,
} satisfies Record<keyof LatencyThrottleOptions, true>);

/** One key's history: calls completed and their delays, and the calls in flight. */
interface KeyState {
  readonly ring: BucketRing;
  /** Calls in flight and the sum of their start times. */
  k: number;
  starts: number;
  rejections: number;
}

/**
 * The WSO2 latency throttle, made exact (docs/semantics.md, "Load shedding").
 * Per key, a bounded delay history; `H(key)` is the key's share of the time
 * the process spends waiting, completed delays plus the time its calls in
 * flight have waited so far (so a hung dependency shows at once):
 *
 * ```text
 * busy(key) = Σ completed delays in the window + k × now − Σ start times in flight
 * H(key)    = busy(key) / Σ busy over every key
 * ```
 *
 * Throttling is active while the calls in flight across every key reach
 * `activeInFlight` (and until they fall below `releaseInFlight`); then a call
 * to a key with `H > loadShare`, at least `minSamples` calls and a recent mean
 * delay above `minDelayMs` is rejected with probability
 * `min(H, maxRejectProbability)`. Nothing is rejected otherwise. No timers.
 */
export class LatencyThrottle {
  private readonly states = new KeyedStates<KeyState>(() => ({ ring: this.ring(), k: 0, starts: 0, rejections: 0 }));

  private readonly all: BucketRing;
  private inFlight = 0;
  /** While active: Σ start times of the calls in flight, and (`all`) every key's history summed. */
  private starts = 0;
  private active = false;
  private readonly origin: number;
  private readonly o: Required<LatencyThrottleOptions>;
  // Read on every call: held as fields of their own rather than through `o`.
  private readonly now: Clock;
  private readonly activeAt: number;
  private readonly releaseAt: number;

  /** @throws OptionTypeError/OptionRangeError naming a bad option. */
  constructor(options: LatencyThrottleOptions, path = 'latencyThrottle') {
    const o = checkKeys(path, options, NAMES, path) as unknown as LatencyThrottleOptions;
    const at = (n: string) => `${path}.${n}`;
    const active = checkInteger(at('activeInFlight'), o.activeInFlight, 1);
    const fn = <F extends (...a: never[]) => unknown>(n: keyof LatencyThrottleOptions, d: F): F =>
      o[n] === undefined ? d : checkFunction<F>(at(n), o[n]);
    this.o = {
      activeInFlight: active,
      releaseInFlight:
        o.releaseInFlight === undefined
          ? Math.floor(0.8 * active)
          : checkInteger(at('releaseInFlight'), o.releaseInFlight, 0, active),
      loadShare: o.loadShare === undefined ? 0.1 : checkNumber(at('loadShare'), o.loadShare, 0, 1),
      minDelayMs: o.minDelayMs === undefined ? 50 : checkNumber(at('minDelayMs'), o.minDelayMs, 0),
      windowMs: o.windowMs === undefined ? 60_000 : checkInteger(at('windowMs'), o.windowMs, 1),
      bucketNums: o.bucketNums === undefined ? 12 : checkInteger(at('bucketNums'), o.bucketNums, 1, 10_000),
      latencyBuckets: o.latencyBuckets === undefined ? 2 : checkInteger(at('latencyBuckets'), o.latencyBuckets, 1),
      minSamples: o.minSamples === undefined ? 20 : checkInteger(at('minSamples'), o.minSamples, 0),
      maxRejectProbability:
        o.maxRejectProbability === undefined
          ? 0.9
          : checkNumber(at('maxRejectProbability'), o.maxRejectProbability, 0, 1),
      now: fn('now', loopClock),
      random: fn('random', Math.random),
    };
    this.now = this.o.now;
    this.activeAt = this.o.activeInFlight;
    this.releaseAt = this.o.releaseInFlight;
    this.all = this.ring();
    // Times relative to the throttle's creation keep `k × t` exact in a double.
    this.origin = this.o.now();
  }

  /**
   * Decides a call to `key`. Returns its start time, to hand to `end()` when
   * it completes, or `undefined` when the call is to be rejected now.
   */
  start(key: string): number | undefined {
    const t = this.now() - this.origin;
    const s = this.states.get(key);
    if (this.inFlight >= this.activeAt) {
      if (!this.active) this.activate(t);
    } else if (this.active && this.inFlight < this.releaseAt) this.active = false;
    if (this.active) {
      if (this.rejects(s, t)) {
        s.rejections++;
        return undefined;
      }
      this.starts += t;
    }
    s.k++;
    s.starts += t;
    this.inFlight++;
    return t;
  }

  /** A call admitted at `startedAt` ended: its delay enters the history (unless `sent` is false: it never went out). */
  end(key: string, startedAt: number, sent = true): void {
    const s = this.states.find(key);
    if (s === undefined || s.k === 0) return;
    s.k--;
    s.starts -= startedAt;
    this.inFlight--;
    if (this.active) this.starts -= startedAt;
    if (!sent) return;
    const t = this.now() - this.origin;
    const delay = Math.max(0, t - startedAt);
    s.ring.add(t, 1, delay);
    if (this.active) this.all.add(t, 1, delay);
  }

  /** `key`'s share of the time the process spends waiting, now (0 for a key never seen). */
  share(key: string): number {
    const s = this.states.find(key);
    if (s === undefined) return 0;
    const t = this.o.now() - this.origin;
    if (!this.active) this.sumKeys(t);
    return this.shareAt(s, t);
  }

  /** Whether throttling is active (calls in flight reached `activeInFlight` and have not fallen below the release). */
  get isActive(): boolean {
    return this.active;
  }

  /** Calls in flight across every key. */
  get callsInFlight(): number {
    return this.inFlight;
  }

  /** The keys it holds state for. */
  keys(): IterableIterator<string> {
    return this.states.keys();
  }

  /** Calls rejected per key since each key was first seen. */
  rejections(): Map<string, number> {
    return this.states.rejections();
  }

  /** Forgets `key` (for a key that will not be called again). */
  remove(key: string): void {
    const s = this.states.remove(key);
    if (s === undefined) return;
    this.inFlight -= s.k;
    // The sums over every key are rebuilt from the keys left.
    if (this.active) this.sumKeys(this.now() - this.origin);
  }

  // The sums over every key (waiting in flight, completed delays) are kept
  // only while throttling is active, the only time a decision reads them: a
  // call to an idle throttle updates its own key alone. They are rebuilt
  // from the keys when it turns on, O(keys × bucketNums) once per activation.
  private activate(t: number): void {
    this.active = true;
    this.sumKeys(t);
  }

  private sumKeys(t: number): void {
    let starts = 0;
    const rings: BucketRing[] = [];
    for (const s of this.states.values()) {
      starts += s.starts;
      rings.push(s.ring);
    }
    this.starts = starts;
    this.all.setToSumOf(rings, t);
  }

  private shareAt(s: KeyState, t: number): number {
    s.ring.rotate(t);
    this.all.rotate(t);
    const busyAll = this.all.totalB + this.inFlight * t - this.starts;
    if (busyAll <= 0) return 0;
    return Math.min(1, (s.ring.totalB + s.k * t - s.starts) / busyAll);
  }

  private rejects(s: KeyState, t: number): boolean {
    const h = this.shareAt(s, t);
    if (h <= this.o.loadShare || s.ring.totalA + s.k < this.o.minSamples) return false;
    if (this.recentDelay(s, t) <= this.o.minDelayMs) return false;
    return this.o.random() < Math.min(h, this.o.maxRejectProbability);
  }

  /**
   * `L(key)`: the larger of the mean delay of its calls completed in the
   * newest `latencyBuckets` buckets (of the window when none completed there
   * but some are in flight; 0 with neither, so that a key rejected at every
   * call is let through to be measured again) and the mean wait so far of
   * its calls in flight. One mean over both let a burst of calls just
   * started pull a slow key under `minDelayMs`, so that a stall of the
   * caller's loop (requests piling up, then all decided at once) let the slow
   * key fill the pool.
   */
  private recentDelay(s: KeyState, t: number): number {
    const [count, delay] = s.ring.recent(t, this.o.latencyBuckets);
    if (s.k === 0) return count > 0 ? delay / count : 0;
    const waiting = (s.k * t - s.starts) / s.k;
    const done = count > 0 ? delay / count : s.ring.totalA > 0 ? s.ring.totalB / s.ring.totalA : 0;
    return Math.max(done, waiting);
  }

  private ring(): BucketRing {
    return new BucketRing(this.o.windowMs / this.o.bucketNums, this.o.bucketNums);
  }
}

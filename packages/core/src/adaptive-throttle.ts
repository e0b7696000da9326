import { BucketRing } from './bucket-ring.js';
import { type Clock, loopClock } from './clock.js';
import type { Disposer } from './event.js';
import type { FleetSync } from './fleet-sync.js';
import { KeyedStates } from './keyed-states.js';
import { ThrottleFleetCounts } from './throttle-fleet-counts.js';
import { checkFunction, checkInteger, checkKeys, checkNumber } from './validate.js';

/** Options of an {@link AdaptiveThrottle}. */
export interface AdaptiveThrottleOptions {
  /** How many calls the backend may be sent per call it accepts. Default 2 (the SRE book). */
  readonly k?: number;
  /** The window requests and accepts are counted over, in ms; longer than any call. Default 120_000. */
  readonly windowMs?: number;
  /** Buckets of the window. Default 120. */
  readonly bucketNums?: number;
  /** Requests in the window below which nothing is rejected. Default 20. */
  readonly minRequests?: number;
  /** Cap on the probability of a rejection, so the backend keeps being probed. Default 0.9. */
  readonly maxRejectProbability?: number;
  /** Clock, ms. Default `loopClock`. */
  readonly now?: Clock;
  /** Random numbers in [0, 1). Default `Math.random`. */
  readonly random?: () => number;
}

const NAMES = Object.keys({
  k: true,
  windowMs: true,
  bucketNums: true,
  minRequests: true,
  maxRejectProbability: true,
  now: true,
  random: true,
} satisfies Record<keyof AdaptiveThrottleOptions, true>);

interface KeyState {
  /** Requests (totalA) and accepts (totalB). */
  readonly ring: BucketRing;
  rejections: number;
}

/**
 * Client-side adaptive throttling (Google SRE, "Handling Overload"), per key.
 * Every call counts as a request when it is decided, rejected ones included;
 * a call the backend accepted (did not refuse for overload) counts as an
 * accept when it ends. A call is rejected locally, not sent, with probability
 *
 * ```text
 * p = min(maxRejectProbability, max(0, (requests − k × accepts) / (requests + 1)))
 * ```
 *
 * over the window, once it holds `minRequests` requests. It never "opens": it
 * sheds a fraction, and the backend keeps receiving about `k` times what it
 * accepts. No timers.
 *
 * With {@link AdaptiveThrottle.shareWith}, `requests` and `accepts` are the
 * fleet's: this node's own plus the rest of the fleet's as a fleet sync last
 * read them.
 */
export class AdaptiveThrottle {
  private readonly states = new KeyedStates<KeyState>(() => ({
    ring: new BucketRing(this.o.windowMs / this.o.bucketNums, this.o.bucketNums),
    rejections: 0,
  }));

  private readonly o: Required<AdaptiveThrottleOptions>;
  // Read on every call: held as fields of their own rather than through `o`.
  private readonly now: Clock;
  private readonly k: number;
  private readonly minRequests: number;
  /** The counts shared with a fleet, while sharing. */
  private fleet: ThrottleFleetCounts | undefined = undefined;

  /** @throws OptionTypeError/OptionRangeError naming a bad option. */
  constructor(options: AdaptiveThrottleOptions = {}, path = 'adaptiveThrottle') {
    const o = checkKeys(path, options, NAMES, path) as AdaptiveThrottleOptions;
    const at = (n: string) => `${path}.${n}`;
    const fn = <F extends (...a: never[]) => unknown>(n: keyof AdaptiveThrottleOptions, d: F): F =>
      o[n] === undefined ? d : checkFunction<F>(at(n), o[n]);
    this.o = {
      k: o.k === undefined ? 2 : checkNumber(at('k'), o.k, 1),
      windowMs: o.windowMs === undefined ? 120_000 : checkInteger(at('windowMs'), o.windowMs, 1),
      bucketNums: o.bucketNums === undefined ? 120 : checkInteger(at('bucketNums'), o.bucketNums, 1, 10_000),
      minRequests: o.minRequests === undefined ? 20 : checkInteger(at('minRequests'), o.minRequests, 0),
      maxRejectProbability:
        o.maxRejectProbability === undefined
          ? 0.9
          : checkNumber(at('maxRejectProbability'), o.maxRejectProbability, 0, 1),
      now: fn('now', loopClock),
      random: fn('random', Math.random),
    };
    this.now = this.o.now;
    this.k = this.o.k;
    this.minRequests = this.o.minRequests;
  }

  /** Counts a request for `key` and decides it: true to send the call, false to reject it here. */
  admit(key: string): boolean {
    const s = this.states.get(key);
    const t = this.now();
    const p = this.probabilityOf(key, s, t);
    s.ring.add(t, 1, 0);
    if (this.fleet !== undefined) this.fleet.request(key);
    if (p > 0 && this.o.random() < p) {
      s.rejections++;
      return false;
    }
    return true;
  }

  /** A sent call ended; `accepted` unless the backend refused it for overload (or never answered). */
  record(key: string, accepted: boolean): void {
    if (!accepted) return;
    this.states.get(key).ring.add(this.now(), 0, 1);
    if (this.fleet !== undefined) this.fleet.accept(key);
  }

  /** The probability a call to `key` is rejected now. */
  probability(key: string): number {
    const s = this.states.find(key);
    return s === undefined ? 0 : this.probabilityOf(key, s, this.now());
  }

  /**
   * While sharing ({@link AdaptiveThrottle.shareWith}): the rest of the
   * fleet's requests and accepts of `key` that decisions use now; undefined
   * when none is fresh (decisions then use this node's counts alone).
   */
  fleetCounts(key: string): { readonly requests: number; readonly accepts: number } | undefined {
    const others = this.fleet?.others(key);
    return others === undefined ? undefined : { requests: others.failures, accepts: others.successes };
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
    this.fleet?.remove(key);
  }

  /**
   * Shares `requests` and `accepts` with the other nodes of a fleet through
   * `sync` (for example a `RedisSync` of `@cbsuite/redis-sync`), as a panel
   * of `scope`, a name unique on the sync: per key one metrics-only breaker
   * over this throttle's window, recording a request as a failure and an
   * accept as a success (docs/semantics.md, "Load shedding", "Fleets").
   * Every throttle of the fleet that shares a key under the same scope
   * decides on the fleet's counts: its own, fresh, plus the rest of the
   * fleet's as the sync last read them. Without a fresh read (the key's
   * first flush not back yet, the store unreachable or slow), it decides on
   * its own counts. Returns a function that stops sharing.
   * @throws Error when it shares already; what `sync.attach` throws (a scope taken).
   */
  shareWith(sync: FleetSync, scope: string): Disposer {
    if (this.fleet !== undefined) throw new Error('this AdaptiveThrottle shares its counts already');
    const fleet = new ThrottleFleetCounts(this.o.windowMs, this.o.now);
    sync.attach(fleet.panel, scope);
    this.fleet = fleet;
    return () => {
      if (this.fleet === fleet) this.fleet = undefined;
      fleet.close();
    };
  }

  private probabilityOf(key: string, s: KeyState, t: number): number {
    s.ring.rotate(t);
    let requests = s.ring.totalA;
    let accepts = s.ring.totalB;
    if (this.fleet !== undefined) {
      const others = this.fleet.others(key);
      if (others !== undefined) {
        requests += others.failures;
        accepts += others.successes;
      }
    }
    const excess = requests - this.k * accepts;
    if (excess <= 0 || requests < this.minRequests) return 0;
    return Math.min(excess / (requests + 1), this.o.maxRejectProbability);
  }
}

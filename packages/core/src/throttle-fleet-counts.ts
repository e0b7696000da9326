import type { Breaker } from './breaker.js';
import type { Clock } from './clock.js';
import type { FleetView } from './fleet-view.js';
import { MIN_BUCKET_NUMS } from './options.js';
import { Panel } from './panel.js';
import { Mode } from './state.js';

const neverTrip = () => false;

/**
 * An adaptive throttle's requests and accepts as a panel a fleet sync can
 * share (see `AdaptiveThrottle.shareWith`): per key one metrics-only breaker,
 * recording a request as a failure and an accept as a success. The sync
 * flushes them with every other breaker's counts, and hands each breaker the
 * rest of the fleet's counts of its key (its fleet view): there, requests
 * are the failures and accepts the successes.
 *
 * Metrics-only, because such a breaker records every outcome without asking
 * a trip func (nothing on the call path but the counting), and no open read
 * from the store can stop it from counting.
 */
export class ThrottleFleetCounts {
  /** The panel to attach to the sync; its window is the throttle's (cut in the fewest buckets a breaker allows). */
  readonly panel: Panel;

  constructor(windowMs: number, now: Clock) {
    this.panel = new Panel({
      bucketNums: MIN_BUCKET_NUMS,
      bucketTimeMs: Math.max(1, Math.round(windowMs / MIN_BUCKET_NUMS)),
      now,
      shouldTrip: neverTrip,
    });
  }

  /** A call to `key` was decided (sent or not). */
  request(key: string): void {
    this.breaker(key).fail();
  }

  /** A sent call to `key` was accepted. */
  accept(key: string): void {
    this.breaker(key).succeed();
  }

  /**
   * The rest of the fleet's counts of `key` (requests in `failures`, accepts
   * in `successes`) if the sync read them lately and they are sane counts;
   * undefined otherwise, and the throttle decides on its own counts.
   */
  others(key: string): FleetView | undefined {
    const v = this.panel.breaker(key)?.fleetView();
    if (v === undefined) return undefined;
    // A sync validates what it reads; one that does not must not poison the decision either.
    return isCount(v.failures) && isCount(v.successes) ? v : undefined;
  }

  /** Forgets `key`. */
  remove(key: string): void {
    this.panel.removeBreaker(key);
  }

  /** Stops sharing: the sync sends what was recorded, then forgets the panel. */
  close(): void {
    this.panel.close();
  }

  private breaker(key: string): Breaker {
    const b = this.panel.getBreaker(key);
    // New breakers start normal; a mode published to the fleet for this scope would stop the counting.
    if (b.mode() !== Mode.MetricsOnly) b.setMode(Mode.MetricsOnly);
    return b;
  }
}

const isCount = (n: number): boolean => n >= 0 && n < Number.POSITIVE_INFINITY;

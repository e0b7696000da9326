import { type Metricer, rate } from './metricer.js';
import type { RecentCounts } from './window-metricer.js';

/** The rest of the fleet's counts for one key, as the sync last heard them. */
export interface FleetView {
  /** Outcomes other nodes recorded in the fleet's window. */
  readonly successes: number;
  readonly failures: number;
  readonly timeouts: number;
  readonly slowCalls: number;
  /** Nodes other than this one that count as failing for the key (see `FleetLink.isFailing`). */
  readonly failingNodes: number;
  /** Nodes, this one included, that reported the key in the window. */
  readonly reportingNodes: number;
  /** Local clock time (ms) after which the view is stale and ignored. */
  readonly expiresAt: number;
}

/**
 * A breaker's own window plus the rest of the fleet's counts for the same
 * key: what a synced breaker's trip func sees. `conseErrors` and
 * `conseTimeMs` stay this node's own.
 */
export class FleetMetricer implements Metricer {
  view: FleetView | undefined = undefined;

  constructor(private readonly own: Metricer) {}

  successes(): number {
    return this.own.successes() + (this.view?.successes ?? 0);
  }
  failures(): number {
    return this.own.failures() + (this.view?.failures ?? 0);
  }
  timeouts(): number {
    return this.own.timeouts() + (this.view?.timeouts ?? 0);
  }
  slowCalls(): number {
    return this.own.slowCalls() + (this.view?.slowCalls ?? 0);
  }
  samples(): number {
    return this.successes() + this.failures() + this.timeouts();
  }
  errorRate(): number {
    return rate(this.failures() + this.timeouts(), this.samples());
  }
  slowRate(): number {
    return rate(this.slowCalls(), this.samples());
  }
  conseErrors(): number {
    return this.own.conseErrors();
  }
  conseTimeMs(): number {
    return this.own.conseTimeMs();
  }
}

/**
 * Samples a trip func judges a node's recent calls against: "if every call of
 * the fleet's window fared as this node's recent calls did". Large enough for
 * any sane `minSample`, small enough to stay exact in a double.
 */
const AS_IF_SAMPLES = 2 ** 30;

/**
 * A node's recent outcomes scaled up to {@link AS_IF_SAMPLES}: error and slow
 * rates are kept, sample minimums are met. `conseErrors` and `conseTimeMs`
 * are the node's own.
 */
export class AsIfFleetMetricer implements Metricer {
  private s = 0;
  private f = 0;
  private t = 0;
  private w = 0;

  constructor(private readonly own: Metricer) {}

  /** Loads calls of which a share `b` failed and a share `b` was slow. */
  loadBadness(b: number): void {
    this.f = AS_IF_SAMPLES * b;
    this.s = AS_IF_SAMPLES - this.f;
    this.t = 0;
    this.w = this.f;
  }

  /** Loads `c`; returns false when it holds no samples. */
  load(c: RecentCounts): boolean {
    const n = c.successes + c.failures + c.timeouts;
    if (n === 0) return false;
    const k = AS_IF_SAMPLES / n;
    this.s = c.successes * k;
    this.f = c.failures * k;
    this.t = c.timeouts * k;
    this.w = c.slowCalls * k;
    return true;
  }

  successes(): number {
    return this.s;
  }
  failures(): number {
    return this.f;
  }
  timeouts(): number {
    return this.t;
  }
  slowCalls(): number {
    return this.w;
  }
  samples(): number {
    return this.s + this.f + this.t;
  }
  errorRate(): number {
    return rate(this.f + this.t, this.samples());
  }
  slowRate(): number {
    return rate(this.w, this.samples());
  }
  conseErrors(): number {
    return this.own.conseErrors();
  }
  conseTimeMs(): number {
    return this.own.conseTimeMs();
  }
}

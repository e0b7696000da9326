import { AsIfFleetMetricer, FleetMetricer, type FleetView } from './fleet-view.js';
import type { Metricer } from './metricer.js';
import type { TripFunc } from './trip-funcs.js';
import type { RecentCounts } from './window-metricer.js';

/**
 * Whether a breaker opened by the fleet may probe once it has cooled:
 * - `local`: decide alone (no sync, or the sync cannot reach its store, or
 *   what the store says about the probe cannot be trusted);
 * - `mine`: this node holds the fleet's probe lease;
 * - `wait`: another node probes, or the lease is not this node's yet: keep rejecting.
 */
export type ProbeGate = 'local' | 'mine' | 'wait';

/** What a trip opens: nothing, this node's breaker alone, or the key for the whole fleet. */
export type TripScope = 'none' | 'local' | 'fleet';

/**
 * Failing nodes a fleet-wide open needs: a count (this node included), or a
 * share of the nodes reporting the key with a floor, for example
 * `{ share: 0.5, min: 2 }` (at least half of the reporting nodes, and at
 * least two).
 */
export type Quorum = number | { readonly share: number; readonly min: number };

/** Failing nodes `quorum` asks for when `reporting` nodes report the key. */
export function requiredNodes(quorum: Quorum, reporting: number): number {
  if (typeof quorum === 'number') return quorum;
  return Math.max(quorum.min, Math.ceil(quorum.share * reporting));
}

/** Outcomes a link recorded since the last flush (see {@link FleetLink.take}). */
export interface PendingCounts {
  successes: number;
  failures: number;
  timeouts: number;
  slowCalls: number;
  /** Local time of the oldest (0 when none). */
  readonly since: number;
  /** The link's window generation when taken: counts of another generation belong to an episode that ended. */
  readonly generation: number;
}

/** What a link asks of its breaker. */
export interface LinkedBreaker {
  /** The breaker's live window. */
  metricer(): Metricer;
  /** Its configured trip func's verdict on `m` (false when the key has none). */
  wouldTrip(m: Metricer): boolean;
  /** Its outcomes over about the last `ms`. */
  recentCounts(ms: number): RecentCounts;
}

/** How a link judges its key: set by the sync that made it. */
export interface FleetPolicy {
  readonly quorum: Quorum;
  /** How far back "recent" reaches when judging whether this node is failing. */
  readonly recentMs: number;
}

/**
 * A breaker's link to a fleet sync: the outcomes it recorded since the last
 * flush, the fleet's view of its key, the probe gate, and the fleet policy
 * that decides what a trip opens.
 *
 * The breaker writes counters here on the call path; the sync reads and
 * resets them, and sets the view and the gate, off it.
 */
export class FleetLink {
  successes = 0;
  failures = 0;
  timeouts = 0;
  slowCalls = 0;
  /** Local time of the oldest outcome not yet taken (0 when none). */
  since = 0;
  /** Local time of the last call checked or recorded. */
  lastUsed = 0;
  private view: FleetView | undefined = undefined;
  private probeGate: ProbeGate = 'local';
  private waiting = false;
  private gen = 0;
  private readonly fleetM: FleetMetricer;
  private readonly asIf: AsIfFleetMetricer;

  constructor(
    readonly key: string,
    private readonly breaker: LinkedBreaker,
    readonly policy: FleetPolicy,
  ) {
    const own = breaker.metricer();
    this.fleetM = new FleetMetricer(own);
    this.asIf = new AsIfFleetMetricer(own);
  }

  /** Counts one outcome: 0 success, 1 failure, 2 timeout. */
  add(outcome: 0 | 1 | 2, slow: boolean, now: number): void {
    if (outcome === 0) this.successes++;
    else if (outcome === 1) this.failures++;
    else this.timeouts++;
    if (slow) this.slowCalls++;
    this.lastUsed = now;
    if (this.since === 0) this.since = now;
  }

  /** Takes the pending counts, leaving zeros. */
  take(): PendingCounts {
    const out = {
      successes: this.successes,
      failures: this.failures,
      timeouts: this.timeouts,
      slowCalls: this.slowCalls,
      since: this.since,
      generation: this.gen,
    };
    this.successes = this.failures = this.timeouts = this.slowCalls = 0;
    this.since = 0;
    return out;
  }

  /** Whether counts are waiting to be taken. */
  hasPending(): boolean {
    return this.successes + this.failures + this.timeouts > 0;
  }

  /** Counts window resets: counts taken in an older generation belong to an episode that ended. */
  get generation(): number {
    return this.gen;
  }

  /**
   * The breaker closed and reset its window: the counts not yet taken and
   * the fleet's view belong to the episode that ended, and must not count
   * toward the next trip.
   */
  resetWindow(): void {
    this.successes = this.failures = this.timeouts = this.slowCalls = 0;
    this.since = 0;
    this.view = undefined;
    this.gen++;
  }

  /** Sets (or, with undefined, forgets) the fleet's view of the key. */
  setView(view: FleetView | undefined): void {
    this.view = view;
  }

  /** The fleet view, if it is still fresh at `now`. */
  freshView(now: number): FleetView | undefined {
    const v = this.view;
    return v !== undefined && now < v.expiresAt ? v : undefined;
  }

  /** Sets the probe gate. A node given the probe no longer waits for it. */
  setGate(gate: ProbeGate): void {
    this.probeGate = gate;
    if (gate === 'mine') this.waiting = false;
  }

  get gate(): ProbeGate {
    return this.probeGate;
  }

  /** Whether a call found the fleet-open breaker cooled but could not probe: the sync then asks for the lease. */
  get wantsProbe(): boolean {
    return this.waiting;
  }

  /**
   * For a fleet-scoped breaker that has cooled: whether it may go HALF_OPEN
   * now. A node that must wait for the fleet's prober remembers that it was
   * asked, so that the sync asks for the lease on its behalf.
   */
  mayProbe(): boolean {
    if (this.probeGate !== 'wait') return true;
    this.waiting = true;
    return false;
  }

  /**
   * What a trip opens, judged with `f` on this node's window `own` and the
   * fleet's view:
   * - without a fresh view: this node's window decides, and the open is the
   *   fleet's only when the quorum is one node;
   * - with one: the key trips when this node's window or the fleet's (own
   *   plus the rest) trips, but only if this node's own recent calls fail
   *   too (`isFailingBy` below): counts read from the store alone never open
   *   a node whose calls succeed. The open is the fleet's when enough nodes,
   *   this one included, are failing for the quorum; otherwise this node's
   *   alone.
   */
  tripScope(f: TripFunc, own: Metricer, now: number): TripScope {
    const ownTrips = f(own);
    const view = this.freshView(now);
    if (view === undefined) {
      if (!ownTrips) return 'none';
      return requiredNodes(this.policy.quorum, 1) <= 1 ? 'fleet' : 'local';
    }
    if (!ownTrips) {
      if (!this.isFailingBy(f)) return 'none';
      this.fleetM.view = view;
      if (!f(this.fleetM)) return 'none';
    }
    const failing = 1 + view.failingNodes;
    const reporting = Math.max(view.reportingNodes, failing);
    return failing >= requiredNodes(this.policy.quorum, reporting) ? 'fleet' : 'local';
  }

  /**
   * For an OPEN this node decided alone: whether the fleet's view, at `now`,
   * meets the quorum with this node (its opener) counted, so that the open
   * should become the fleet's.
   */
  quorumMet(now: number): boolean {
    const view = this.freshView(now);
    if (view === undefined) return false;
    const failing = 1 + view.failingNodes;
    return failing >= requiredNodes(this.policy.quorum, Math.max(view.reportingNodes, failing));
  }

  /**
   * How badly this node's recent calls fare: the larger of their error rate
   * and their slow-call rate, in [0, 1]; undefined without recent calls. The
   * sync shares it, so that every node counts the failing nodes by its own
   * trip func ({@link failingThreshold}).
   */
  badness(): number | undefined {
    const c = this.breaker.recentCounts(this.policy.recentMs);
    const n = c.successes + c.failures + c.timeouts;
    if (n === 0) return undefined;
    return Math.max((c.failures + c.timeouts) / n, c.slowCalls / n);
  }

  /**
   * The least badness at which the key's trip func trips when every call of
   * the window fares so (bisected to a thousandth); `undefined` when no
   * badness trips it (a trip func on runs of errors alone): other nodes then
   * count as failing only by their own judgement.
   */
  failingThreshold(): number | undefined {
    const m = this.asIf;
    m.loadBadness(1);
    if (!this.breaker.wouldTrip(m)) return undefined;
    let lo = 0;
    let hi = 1;
    m.loadBadness(0);
    if (this.breaker.wouldTrip(m)) return 0;
    while (hi - lo > 0.0005) {
      const mid = (lo + hi) / 2;
      m.loadBadness(mid);
      if (this.breaker.wouldTrip(m)) hi = mid;
      else lo = mid;
    }
    // The nearest thousandth that trips.
    const t = Math.round(hi * 1000) / 1000;
    m.loadBadness(t);
    return this.breaker.wouldTrip(m) ? t : Math.min(1, t + 0.001);
  }

  /**
   * Whether this node counts as failing for the key, by its configured trip
   * func: the sync shares this with the fleet for the quorum.
   */
  isFailing(): boolean {
    return this.asIf.load(this.breaker.recentCounts(this.policy.recentMs)) && this.breaker.wouldTrip(this.asIf);
  }

  /**
   * Whether `f` would trip if every call in the fleet's window had fared as
   * this node's recent calls did: error and slow rates as this node saw them
   * lately, sample minimums met, runs of errors this node's own.
   */
  private isFailingBy(f: TripFunc): boolean {
    return this.asIf.load(this.breaker.recentCounts(this.policy.recentMs)) && f(this.asIf);
  }
}

import type { Breaker, TransitionInfo } from './breaker.js';
import type { State } from './state.js';

/**
 * Whether a breaker opened by the fleet may probe once it has cooled:
 * - `local`: decide alone (no sync, or the sync cannot reach its store);
 * - `mine`: this node holds the fleet's probe lease;
 * - `wait`: another node probes, or the lease is not this node's yet: keep rejecting.
 */
export type ProbeGate = 'local' | 'mine' | 'wait';

/** The rest of the fleet's counts for one key, as the sync last heard them. */
export interface FleetView {
  /** Outcomes other nodes recorded in the window. */
  readonly successes: number;
  readonly failures: number;
  readonly timeouts: number;
  readonly slowCalls: number;
  /** Nodes other than this one that recorded errors for the key in the window. */
  readonly failingNodes: number;
  /** Local clock time (ms) after which the view is stale and ignored. */
  readonly expiresAt: number;
}

/** Outcomes a link recorded since the last flush (see {@link FleetLink.take}). */
export interface PendingCounts {
  successes: number;
  failures: number;
  timeouts: number;
  slowCalls: number;
  /** Local time of the oldest (0 when none). */
  since: number;
  /** The link's window generation when taken. */
  readonly generation: number;
}

/**
 * A breaker's link to a fleet sync: the outcomes it recorded since the last
 * flush, the fleet's view of its key, and its probe gate. The breaker only
 * writes counters here; the sync reads and resets them off the call path.
 */
export class FleetLink {
  successes = 0;
  failures = 0;
  timeouts = 0;
  slowCalls = 0;
  /** Local time of the oldest outcome not yet flushed (0 when none). */
  since = 0;
  /** Local time of the last call checked or recorded. */
  lastUsed = 0;
  view: FleetView | undefined = undefined;
  gate: ProbeGate = 'local';
  /**
   * Distinct failing nodes (this one included) a fleet-wide open needs. With
   * 1, any trip of this node opens the key for the fleet.
   */
  quorum = 2;
  /** Set when the breaker, fleet-open and cooled, was asked for a call it could not probe with. */
  wantsProbe = false;
  /** Counts window resets, so that counts taken before a reset are not restored after it. */
  private generation = 0;
  private queued = false;

  constructor(
    readonly key: string,
    private readonly onPending: (link: FleetLink) => void,
  ) {}

  /** Counts one outcome: 0 success, 1 failure, 2 timeout. */
  add(outcome: 0 | 1 | 2, slow: boolean, now: number): void {
    if (outcome === 0) this.successes++;
    else if (outcome === 1) this.failures++;
    else this.timeouts++;
    if (slow) this.slowCalls++;
    this.lastUsed = now;
    if (this.since === 0) this.since = now;
    if (!this.queued) {
      this.queued = true;
      this.onPending(this);
    }
  }

  /** Takes the pending counts, leaving zeros. */
  take(): PendingCounts {
    const out = {
      successes: this.successes,
      failures: this.failures,
      timeouts: this.timeouts,
      slowCalls: this.slowCalls,
      since: this.since,
      generation: this.generation,
    };
    this.successes = this.failures = this.timeouts = this.slowCalls = 0;
    this.since = 0;
    this.queued = false;
    return out;
  }

  /**
   * Puts back counts a failed flush took, so that nothing recorded is lost;
   * unless the window was reset since they were taken.
   */
  restore(d: PendingCounts): void {
    if (d.generation !== this.generation) return;
    this.successes += d.successes;
    this.failures += d.failures;
    this.timeouts += d.timeouts;
    this.slowCalls += d.slowCalls;
    if (d.since !== 0 && (this.since === 0 || d.since < this.since)) this.since = d.since;
    if (!this.queued && this.successes + this.failures + this.timeouts > 0) {
      this.queued = true;
      this.onPending(this);
    }
  }

  /**
   * The breaker closed and reset its window: the counts not yet flushed and
   * the fleet's view belong to the episode that ended, and must not count
   * toward the next trip.
   */
  resetWindow(): void {
    this.successes = this.failures = this.timeouts = this.slowCalls = 0;
    this.since = 0;
    this.view = undefined;
    this.generation++;
  }

  /** The fleet view, if it is still fresh at `now`. */
  freshView(now: number): FleetView | undefined {
    const v = this.view;
    return v !== undefined && now < v.expiresAt ? v : undefined;
  }
}

/**
 * A fleet sync as a panel's owner sees it (for example a `CBSuite`): it
 * shares panels under scope names and carries config values across the
 * fleet. `@cbsuite/redis-sync`'s `RedisSync` implements it.
 */
export interface FleetSync {
  /** Shares `panel`'s breakers with the fleet under `scope`, a name unique per panel (such as `service`). */
  attach(panel: SyncedPanel & { attachSync(sync: PanelSync): void }, scope: string): void;
  /** Stores `value` for (scope, key) for the whole fleet, nodes that join later included. */
  publishConfig(scope: string, key: string, value: unknown): Promise<void>;
  /**
   * Receives config values published by any node, and the stored ones when
   * the sync (re)connects. A handler that throws refuses the value (counted
   * by the sync). Returns a function that stops receiving.
   */
  onConfig(scope: string, handler: (key: string, value: unknown) => void): () => void;
}

/** A panel as a sync sees it. */
export interface SyncedPanel {
  /** The breaker for `key`, created if missing. */
  getBreaker(key: string): Breaker;
  /** Breakers by key (a snapshot). */
  dumpBreakers(): ReadonlyMap<string, Breaker>;
}

/**
 * What a fleet sync implements to share a panel's breakers (see
 * `@cbsuite/redis-sync`). Core calls it; it never touches the call path
 * except through the counters of {@link FleetLink}.
 */
export interface PanelSync {
  /** The link `breaker` (of `key`) records into. Called for each breaker, existing and new. */
  link(panel: SyncedPanel, key: string, breaker: Breaker): FleetLink;
  /** The breaker of `key` left the panel (removed or evicted). */
  unlink(panel: SyncedPanel, key: string): void;
  /** A breaker of the panel changed state (after its own handler ran). */
  transition(panel: SyncedPanel, key: string, from: State, to: State, info: TransitionInfo): void;
  /** The panel detached the sync, or was closed. */
  detach(panel: SyncedPanel): void;
}

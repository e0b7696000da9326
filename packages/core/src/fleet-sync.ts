import type { Breaker } from './breaker.js';
import type { FleetLink } from './fleet-link.js';
import type { Mode, State } from './state.js';
import type { TransitionInfo } from './transition.js';

/**
 * A fleet sync as a panel's owner sees it (for example a `CBSuite`): it
 * shares panels under scope names and carries config values and forced
 * modes across the fleet. `@cbsuite/redis-sync`'s `RedisSync` implements it.
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
  /**
   * Sets `mode` for `key` of the panel shared under `scope` on every node,
   * nodes that join later included (`normal` clears a forced mode).
   */
  publishMode(scope: string, key: string, mode: Mode): Promise<void>;
}

/** A panel as a sync sees it. */
export interface SyncedPanel {
  /** The breaker for `key`, created if missing. */
  getBreaker(key: string): Breaker;
  /** The breaker for `key`, if it exists. */
  breaker(key: string): Breaker | undefined;
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
  /**
   * The panel detached the sync, or was closed: the sync still sends the
   * outcomes its breakers recorded and releases what they held.
   */
  detach(panel: SyncedPanel): void;
}

/**
 * The counters of a fleet sync, as exporters read them (the Prometheus and
 * OpenTelemetry sync metrics of `@cbsuite/grpc-interceptor`).
 * `RedisSync.stats()` returns these and more.
 */
export interface FleetSyncStats {
  /** Whether the last flush reached the store in time. */
  readonly connected: boolean;
  readonly flushes: number;
  readonly failedFlushes: number;
  /** Flushes whose counts the store had applied already (sent again after a timeout): not counted twice. */
  readonly duplicates: number;
  /** Commands sent to the store. */
  readonly commands: number;
  /** Breakers shared. */
  readonly keys: number;
  /** Probe leases this node holds. */
  readonly leases: number;
  /** Messages and records read from the store and refused, by reason. */
  readonly refused: Readonly<Record<string, number>>;
  /** Config values a handler refused. */
  readonly refusedConfigs: number;
  /** Counts dropped because they could not be sent before they left the window. */
  readonly droppedStale: number;
  /** State messages applied from other nodes. */
  readonly appliedStates: number;
  /** Keys of the wrong type and garbage records found in the store and repaired. */
  readonly repaired: number;
  /** Flushes whose counts were beyond the plausible rate, and clamped. */
  readonly clamped: number;
  /** Counts taken and not yet confirmed by the store, in batches. */
  readonly pendingBatches: number;
  /** Ms since the last flush that reached the store (Infinity before the first). */
  readonly lagMs: number;
}

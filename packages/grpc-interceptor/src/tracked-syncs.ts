import { type FleetSyncStats, OptionRangeError, OptionTypeError } from '@cbsuite/core';
import type { SYNC_METRICS } from './metric-catalog.js';
import type { Sample } from './tracked-suites.js';

/** The counters of a fleet sync that the sync metrics read: core's `FleetSyncStats`, which `RedisSync.stats()` returns. */
export type SyncStats = FleetSyncStats;

/** A fleet sync with counters, such as a `RedisSync`. */
export interface SyncStatsSource {
  stats(): SyncStats;
}

/** The sync metrics, by their name in {@link SYNC_METRICS}. */
export type SyncMetric = keyof typeof SYNC_METRICS;

const READ: Record<Exclude<SyncMetric, 'refused'>, (s: SyncStats) => number> = {
  connected: (s) => (s.connected ? 1 : 0),
  lag: (s) => s.lagMs / 1000,
  flushes: (s) => s.flushes,
  failedFlushes: (s) => s.failedFlushes,
  duplicates: (s) => s.duplicates,
  refusedConfigs: (s) => s.refusedConfigs,
  droppedStale: (s) => s.droppedStale,
  appliedStates: (s) => s.appliedStates,
  repaired: (s) => s.repaired,
  clamped: (s) => s.clamped,
  commands: (s) => s.commands,
  keys: (s) => s.keys,
  leases: (s) => s.leases,
  pendingBatches: (s) => s.pendingBatches,
};

/** The syncs an exporter reads, by name; their counters are read when asked. */
export class TrackedSyncs {
  private readonly syncs = new Map<string, SyncStatsSource>();

  /**
   * Starts reading `sync` under `name`.
   * @throws OptionTypeError when `sync` has no `stats()` or `name` is not a non-empty string;
   *   OptionRangeError when `name` is taken.
   */
  add(sync: SyncStatsSource, name: string): void {
    if (typeof sync !== 'object' || sync === null || typeof sync.stats !== 'function') {
      throw new OptionTypeError('sync', sync, 'must be a fleet sync with stats(), such as a RedisSync');
    }
    if (typeof name !== 'string' || name.length === 0) {
      throw new OptionTypeError('name', name, 'must be a non-empty string');
    }
    if (this.syncs.has(name)) throw new OptionRangeError('name', name, 'is already exported: names a sync once');
    this.syncs.set(name, sync);
  }

  /** Stops reading the sync named `name`. */
  remove(name: string): void {
    this.syncs.delete(name);
  }

  /** The names of the syncs read. */
  names(): string[] {
    return [...this.syncs.keys()];
  }

  /** Every sync's counters, read now. */
  read(): Map<string, SyncStats> {
    const out = new Map<string, SyncStats>();
    for (const [name, sync] of this.syncs) out.set(name, sync.stats());
    return out;
  }

  /** The samples of `metric` from counters read by {@link read}. */
  static samples(metric: SyncMetric, stats: ReadonlyMap<string, SyncStats>): Sample[] {
    const out: Sample[] = [];
    for (const [sync, s] of stats) {
      if (metric === 'refused') {
        for (const [reason, value] of Object.entries(s.refused)) out.push({ labels: { sync, reason }, value });
      } else out.push({ labels: { sync }, value: READ[metric](s) });
    }
    return out;
  }
}

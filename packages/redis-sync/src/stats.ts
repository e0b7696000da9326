import type { Counters, Scope } from './context.js';
import type { Refusal } from './messages.js';

/** Counters of a {@link RedisSync}. */
export interface RedisSyncStats {
  readonly nodeId: string;
  /** Whether the last flush reached Redis in time. */
  readonly connected: boolean;
  readonly flushes: number;
  readonly failedFlushes: number;
  /** Flushes whose counts Redis had applied already (sent again after a timeout): not counted twice. */
  readonly duplicates: number;
  /** Redis commands sent (scripts and plain commands). */
  readonly commands: number;
  /** Breakers shared. */
  readonly keys: number;
  /** Probe leases this node holds. */
  readonly leases: number;
  /** Messages and records read from Redis and refused, by reason. */
  readonly refused: Readonly<Record<Refusal, number>>;
  /** Config values a handler refused. */
  readonly refusedConfigs: number;
  /** Counts dropped because they could not be sent before they left the window. */
  readonly droppedStale: number;
  /** State messages applied from other nodes. */
  readonly appliedStates: number;
  /** Keys of the wrong type and garbage records found in Redis and repaired (deleted or recounted). */
  readonly repaired: number;
  /** Flushes whose counts were beyond `maxNodeCallsPerSec`, and clamped. */
  readonly clamped: number;
  /** Counts taken and not yet confirmed by Redis, in batches. */
  readonly pendingBatches: number;
  /** Ms since the last flush that reached Redis (Infinity before the first). */
  readonly lagMs: number;
}

/** The counters of a sync whose scopes are `scopes`. */
export function statsOf(
  nodeId: string,
  connected: boolean,
  c: Counters,
  scopes: Iterable<Scope>,
  pendingBatches: number,
  lagMs: number,
): RedisSyncStats {
  let keys = 0;
  let leases = 0;
  for (const s of scopes) {
    keys += s.tracked.size;
    for (const tr of s.tracked.values()) if (tr.leaseHeld) leases++;
  }
  return {
    nodeId,
    connected,
    flushes: c.flushes,
    failedFlushes: c.failedFlushes,
    duplicates: c.duplicates,
    commands: c.commands,
    keys,
    leases,
    refused: { ...c.refused },
    refusedConfigs: c.refusedConfigs,
    droppedStale: c.droppedStale,
    appliedStates: c.appliedStates,
    repaired: c.repaired,
    clamped: c.clamped,
    pendingBatches,
    lagMs,
  };
}

import type { FleetSyncStats } from '@cbsuite/core';
import type { Counters, Scope } from './context.js';
import type { Refusal } from './messages.js';

/** Counters of a {@link RedisSync}: the fleet sync's counters, with this node's id and the refusals typed. */
export interface RedisSyncStats extends FleetSyncStats {
  readonly nodeId: string;
  /** Messages and records read from Redis and refused, by reason. */
  readonly refused: Readonly<Record<Refusal, number>>;
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

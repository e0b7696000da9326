// Worlds for the tests of the views and the timeline: one client node, one
// service key, two instances, with the counts and states a test gives.
import {
  type Counters,
  type InstanceView,
  type NodeSnapshot,
  type ServiceView,
  type ShedReasonName,
  type StateName,
  ZERO,
} from '@cbsuite/testkit/node-stats.js';
import type { WorldSnapshot } from './snapshot.js';

export const KEY = 'demo-client/echo.v1.Echo/Say';
export const A = '127.0.0.1:41001';
export const B = '127.0.0.1:41002';

export interface WorldInput {
  readonly atMs: number;
  readonly counters?: Partial<Counters>;
  readonly service?: StateName;
  readonly instances?: Partial<Record<string, StateName>>;
  readonly down?: readonly string[];
  readonly node?: string;
  readonly threshold?: number;
  /** The key's shed calls, for a node with serviceShedding. */
  readonly shed?: Partial<Record<ShedReasonName, number>>;
}

export function node(w: WorldInput): NodeSnapshot {
  const counters = { ...ZERO, ...w.counters };
  const service: ServiceView = {
    key: KEY,
    state: w.service ?? 'CLOSED',
    window: { samples: 400, failures: 20, errorRate: 0.05 },
    threshold: w.threshold ?? 0.5,
    minSample: 20,
    calls: counters.calls,
    failed: counters.failed,
    rejected: counters.rejectedService,
    retried: counters.retries,
    ...(w.shed && { shed: w.shed }),
  };
  const instances: InstanceView[] = [A, B].map((address) => ({
    address,
    state: w.instances?.[address] ?? 'CLOSED',
    window: { samples: 200, failures: 0, errorRate: 0 },
    answered: Math.floor(counters.ok / 2),
    skips: address === B ? counters.skips : 0,
  }));
  return { node: w.node ?? 'client-1', counters, inFlight: 3, services: [service], instances };
}

export function world(w: WorldInput): WorldSnapshot {
  return {
    atMs: w.atMs,
    durationMs: 20_000,
    phase: 'steady load',
    nodes: [node(w)],
    processes: [A, B].map((address) => ({
      address,
      up: !(w.down ?? []).includes(address),
      behaviour: 'healthy, 15 ms',
    })),
  };
}

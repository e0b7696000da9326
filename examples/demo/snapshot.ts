// What the views, the timeline and the summary read: the state of every
// client node of the demo at one moment. Embedded mode has one node; fleet
// mode has four, one per process, sharing the instances.

/** A breaker state as the suite names it. */
export type StateName = 'CLOSED' | 'OPEN' | 'HALFOPEN';

/** Breaker levels of the suite. */
export type Level = 'service' | 'instance';

/** Counts of one client node, cumulative since the run began (or, as a delta, over a span). */
export interface Counters {
  /** Calls the client started. */
  readonly calls: number;
  /** Calls that returned a reply. */
  readonly ok: number;
  /** Calls that failed with an error from the service or the network: the caller saw them fail. */
  readonly failed: number;
  /** Calls the service-level breaker rejected before sending them. */
  readonly rejectedService: number;
  /** Calls the instance-level breaker failed at once because every instance was tripped. */
  readonly rejectedInstance: number;
  /** Attempts cut by a dropped connection and retried on another instance (unseen by the caller). */
  readonly retries: number;
  /** Picks the instance-level breaker moved off a tripped instance. */
  readonly skips: number;
}

export const ZERO: Counters = Object.freeze({
  calls: 0,
  ok: 0,
  failed: 0,
  rejectedService: 0,
  rejectedInstance: 0,
  retries: 0,
  skips: 0,
});

/** A breaker's sliding window. */
export interface WindowCounts {
  readonly samples: number;
  /** Failures and timeouts. */
  readonly failures: number;
  readonly errorRate: number;
}

/** One service key of a node: its breaker and the node's calls under it. */
export interface ServiceView {
  readonly key: string;
  readonly state: StateName;
  readonly window: WindowCounts;
  /** The `errRate` in force. */
  readonly threshold: number;
  readonly minSample: number;
  /** Calls made, failed and rejected under this key since the run began. */
  readonly calls: number;
  readonly failed: number;
  readonly rejected: number;
  /** Attempts of its calls retried on another instance (the suite counts them across keys; the demo calls one). */
  readonly retried: number;
}

/** One instance as a node's instance-level breaker sees it. */
export interface InstanceView {
  readonly address: string;
  readonly state: StateName;
  readonly window: WindowCounts;
  /** Calls this instance answered for the node. */
  readonly answered: number;
  /** Picks moved off it while it was tripped. */
  readonly skips: number;
}

/** One client node. */
export interface NodeSnapshot {
  readonly node: string;
  readonly counters: Counters;
  readonly inFlight: number;
  readonly services: readonly ServiceView[];
  readonly instances: readonly InstanceView[];
}

/** An instance's process, as the demo runs it. */
export interface ProcessView {
  readonly address: string;
  readonly up: boolean;
  /** `healthy`, `slow 60 ms, 35% INTERNAL`, ... */
  readonly behaviour: string;
}

/** Everything at one moment of the run. */
export interface WorldSnapshot {
  /** Time since the run began. */
  readonly atMs: number;
  readonly durationMs: number;
  /** The current phase's label. */
  readonly phase: string;
  readonly nodes: readonly NodeSnapshot[];
  readonly processes: readonly ProcessView[];
}

/** The counts of every node, by node name. */
export function countersByNode(world: WorldSnapshot): Map<string, Counters> {
  return new Map(world.nodes.map((n) => [n.node, n.counters]));
}

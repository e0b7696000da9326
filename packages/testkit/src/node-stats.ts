// What a client node (client-node.ts) tells of itself, as plain data that
// can cross a process boundary: its counts, its breakers at one moment, and
// each change of a breaker's state.

/** A breaker state as the suite names it. */
export type StateName = 'CLOSED' | 'OPEN' | 'HALFOPEN';

/** Breaker levels of the suite. */
export type Level = 'service' | 'instance';

/** Counts of one client node, cumulative since its load began (or, as a delta, over a span). */
export interface Counters {
  /** Calls the client started. */
  readonly calls: number;
  /** Calls that returned a reply. */
  readonly ok: number;
  /** Calls that failed with an error from the service or the network: the caller saw them fail. */
  readonly failed: number;
  /** Calls the service level rejected before sending them: its breaker, or its load shedding (`serviceShedding`). */
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

/** A breaker's sliding window: one node's, or the fleet's. */
export interface WindowCounts {
  readonly samples: number;
  /** Failures and timeouts. */
  readonly failures: number;
  readonly errorRate: number;
}

/** Why a call was shed (grpc-interceptor's `ShedReason`). */
export type ShedReasonName = 'latency' | 'adaptive' | 'concurrency';

/** One service key of a node: its breaker and the node's calls under it. */
export interface ServiceView {
  readonly key: string;
  readonly state: StateName;
  readonly window: WindowCounts;
  /** The `errRate` in force. */
  readonly threshold: number;
  readonly minSample: number;
  /** Calls made, failed and rejected under this key since the load began. */
  readonly calls: number;
  readonly failed: number;
  readonly rejected: number;
  /** Attempts of its calls retried on another instance (the suite counts them across keys; the load calls one). */
  readonly retried: number;
  /**
   * Calls `serviceShedding` failed fast under this key since the load began, by reason
   * (reasons with none left out). Absent while the node has shed nothing at all.
   */
  readonly shed?: Readonly<Partial<Record<ShedReasonName, number>>>;
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

/** One client node at one moment. */
export interface NodeSnapshot {
  readonly node: string;
  readonly counters: Counters;
  readonly inFlight: number;
  readonly services: readonly ServiceView[];
  readonly instances: readonly InstanceView[];
}

/** A breaker of a client node changed state. */
export interface StateChange {
  readonly node: string;
  /** When, in epoch ms with a fraction (every process on the machine reads the same clock). */
  readonly at: number;
  readonly level: Level;
  readonly key: string;
  readonly from: StateName;
  readonly to: StateName;
  /** `trip`, `cooled`, `probeFailed`, `probeSucceeded`: decided here; `remote`: applied from the fleet. */
  readonly cause: string;
  /** Whether the fleet shares this state (see `CBStateChangeEvent.fleet`). */
  readonly fleet: boolean;
  readonly coolingMs: number;
  /** The node's own window at the change, and its failures since the last success. */
  readonly own: WindowCounts;
  readonly conseErrors: number;
  /** The node's window plus the rest of the fleet's, when the node had a fresh view of it. */
  readonly fleetWindow?: WindowCounts & { readonly failingNodes: number };
  /** The `errRate` in force for the key on the node. */
  readonly errRate: number;
}

/** A fleet node's calls of its service key, its breaker there and its sync, as the tests read them. */
export interface NodeStats {
  index: number;
  /** Calls that reached the service (answered or failed). */
  sent: number;
  failed: number;
  rejected: number;
  state: string;
  fleet: boolean;
  connected: boolean;
  commands: number;
  syncFlushes: number;
}

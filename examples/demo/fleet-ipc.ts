import type { Profile } from './profile.js';
import type { Level, NodeSnapshot, StateName } from './snapshot.js';

/** What a client process of the fleet is started with (its one argument, as JSON). */
export interface FleetNodeConfig {
  readonly name: string;
  readonly addresses: readonly string[];
  /** The run's profile, its `load` cut to this node's share. */
  readonly profile: Profile;
  readonly redisUrl: string;
  readonly namespace: string;
  readonly syncIntervalMs: number;
  /** The service breaker's `minSample`, sized for the fleet's calls (see fleet.ts). */
  readonly serviceMinSample: number;
  /** How often the node sends its snapshot. */
  readonly snapshotEveryMs: number;
}

/** A window's counts: one node's, or the fleet's. */
export interface WindowAt {
  readonly samples: number;
  readonly failures: number;
  readonly errorRate: number;
}

/** A breaker of a client process changed state. */
export interface FleetStateChange {
  readonly node: string;
  /** When, in epoch ms with a fraction (every process of the demo reads the same clock). */
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
  readonly own: WindowAt;
  readonly conseErrors: number;
  /** The node's window plus the rest of the fleet's, when the node had a fresh view of it. */
  readonly fleetWindow?: WindowAt & { readonly failingNodes: number };
  /** The `errRate` in force for the key on the node. */
  readonly errRate: number;
}

/** What the demo tells a client process; each `seq` is answered with a `done`. */
export type ToFleetNode =
  | { readonly type: 'start' }
  /** Stop the load and wait for its calls in flight; `done` carries the last snapshot. */
  | { readonly type: 'stop'; readonly seq: number }
  /** `publishServiceCBConfig(key, { errRate })` here; `done` carries when it was applied here. */
  | { readonly type: 'publish'; readonly seq: number; readonly key: string; readonly errRate: number }
  /** Answer `done` at once, then `applied` once `errRate` is in force for the key. */
  | { readonly type: 'watch'; readonly seq: number; readonly key: string; readonly errRate: number }
  /** Close the suite, the sync and Redis, then exit. */
  | { readonly type: 'close'; readonly seq: number };

/** What a client process tells the demo. */
export type FromFleetNode =
  | { readonly type: 'ready'; readonly nodeId: string }
  | { readonly type: 'failed'; readonly message: string }
  | { readonly type: 'state'; readonly change: FleetStateChange }
  | { readonly type: 'snapshot'; readonly snapshot: NodeSnapshot }
  | {
      readonly type: 'done';
      readonly seq: number;
      readonly at?: number;
      readonly snapshot?: NodeSnapshot;
      readonly error?: string;
    }
  /** A watched config is in force (`at`), or did not come in time (no `at`). */
  | { readonly type: 'applied'; readonly seq: number; readonly at?: number };

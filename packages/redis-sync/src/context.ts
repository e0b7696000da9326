import type { Breaker, FleetLink, Quorum, SyncedPanel } from '@cbsuite/core';
import type { Connections } from './connections.js';
import type { BreakerKeys, Keys } from './keys.js';
import { type MessageCodec, REFUSALS, type Refusal } from './messages.js';
import type { ResolvedSyncOptions } from './options.js';

/** A panel shared under a scope name. */
export interface Scope {
  readonly name: string;
  readonly quorum: Quorum;
  readonly panel: SyncedPanel & { setMode?(key: string, mode: string): void };
  readonly tracked: Map<string, Tracked>;
  /** Breakers the panel dropped: flushed once more (their counts, their lease), then forgotten. */
  readonly retired: Set<Tracked>;
  readonly windowMs: number;
  readonly bucketMs: number;
  /** Buckets of the fleet window (`windowMs / bucketMs`). */
  readonly buckets: number;
  /** How often a key with nothing to say is flushed. */
  readonly quietMs: number;
  /** The panel's clock. */
  readonly now: () => number;
  /** Set when the panel detached: its keys get one last flush, then the scope goes. */
  closing: boolean;
}

/** One shared breaker, as the sync keeps it. */
export interface Tracked {
  readonly scope: Scope;
  readonly key: string;
  readonly breaker: Breaker;
  readonly link: FleetLink;
  readonly keys: BreakerKeys;
  /** The panel dropped the breaker: one last flush sends its counts and releases its lease. */
  retired: boolean;
  /** This node's flushed counts per fleet bucket: [epoch, s, f, t, slow] × buckets. */
  own: Float64Array | undefined;
  /** Version (server ms) of the newest state applied or written. */
  stateVer: number;
  /** Version of the stored state the last flush saw. */
  storedVer: number;
  /** Cooling of the last fleet open, for how long a close stays meaningful. */
  coolingMs: number;
  /** This node's lease value for the key (signed with a secret). */
  readonly leaseValue: string;
  leaseHeld: boolean;
  /** A holder value that failed its signature: treated as absent, dropped by the next flush. */
  forgedHolder: string;
  /** This node's entry among the erring nodes, as last sent ('' when none), its score, and the threshold it counted others by. */
  failMember: string;
  failScore: number;
  failThreshold: number;
  /** Local time the entry, or its score alone, was last sent. */
  failSentAt: number;
  /** Local time the entry was last sent whole (with its report time). */
  failRefreshedAt: number;
  /** Local time this node last reported the key. */
  reportedAt: number;
  /** Local time of the last flush that reached Redis (0: never). */
  flushedAt: number;
  /** Failing nodes among the others, as far as they can be trusted; and the count it was judged from. */
  trustedOthers: number;
  sampledCount: number;
  /** Failing entries counted by the last flush. */
  failingSeen: number;
  sampledAt: number;
}

/** Counters behind `stats()`. */
export interface Counters {
  flushes: number;
  failedFlushes: number;
  /** Flushes whose counts Redis had applied already (sent again after a timeout). */
  duplicates: number;
  commands: number;
  refusedConfigs: number;
  droppedStale: number;
  appliedStates: number;
  /** Keys or fields of the wrong type or garbage found in Redis and repaired. */
  repaired: number;
  /** Flushes whose counts were beyond the plausible bound, and clamped. */
  clamped: number;
  readonly refused: Record<Refusal, number>;
}

export function newCounters(): Counters {
  return {
    flushes: 0,
    failedFlushes: 0,
    duplicates: 0,
    commands: 0,
    refusedConfigs: 0,
    droppedStale: 0,
    appliedStates: 0,
    repaired: 0,
    clamped: 0,
    refused: Object.fromEntries(REFUSALS.map((r) => [r, 0])) as Record<Refusal, number>,
  };
}

/** The scripts, as ioredis commands on the sync's own connection. */
export interface SyncCommands {
  cbsFlush(...args: (string | number)[]): Promise<unknown>;
  cbsPutState(...args: (string | number)[]): Promise<unknown>;
  cbsPutConfig(...args: (string | number)[]): Promise<unknown>;
  cbsOpenKeys(...args: (string | number)[]): Promise<unknown>;
  cbsReadConfigs(...args: (string | number)[]): Promise<unknown>;
  cbsServerTime(): Promise<unknown>;
}

/** What the parts of a sync share. */
export interface SyncContext {
  readonly o: ResolvedSyncOptions;
  readonly keys: Keys;
  readonly codec: MessageCodec;
  readonly conn: Connections;
  readonly cmd: SyncCommands;
  readonly counters: Counters;
  readonly scopes: Map<string, Scope>;
  /** This incarnation's token: `nodeId:random`. */
  readonly token: string;
  /** Whether the last flush reached Redis in time. */
  readonly healthy: boolean;
  /** The Redis server's clock, estimated (ms). */
  serverNow(): number;
  /** Records a new estimate of the server's clock from a reply sent at `sent` and received at `received` (wall ms). */
  observeServerTime(serverNow: number, sent: number, received: number): void;
  /** Reports an error of the sync itself. */
  report(err: unknown): void;
  /** Keeps track of a write still on its way to Redis (see `settled()`). */
  track(p: Promise<unknown>): void;
}

export const isNonNegInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** A breaker as the sync starts to track it. */
export function newTracked(
  scope: Scope,
  key: string,
  breaker: Breaker,
  link: FleetLink,
  keys: BreakerKeys,
  leaseValue: string,
): Tracked {
  return {
    scope,
    key,
    breaker,
    link,
    keys,
    retired: false,
    own: undefined,
    stateVer: 0,
    storedVer: 0,
    coolingMs: 0,
    leaseValue,
    leaseHeld: false,
    forgedHolder: '',
    failMember: '',
    failScore: 0,
    failThreshold: 0,
    failSentAt: 0,
    failRefreshedAt: 0,
    reportedAt: Number.NEGATIVE_INFINITY,
    flushedAt: 0,
    trustedOthers: 0,
    sampledCount: 0,
    sampledAt: Number.NEGATIVE_INFINITY,
    failingSeen: 0,
  };
}

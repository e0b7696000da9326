import type { Counts, State, TransitionCause } from '@cbsuite/core';
import type { StatusObject } from '@grpc/grpc-js';
import type { CBConfig } from './cb-config.js';
import type { Level } from './classify.js';
import type { ServingStatus } from './health-codec.js';
import type { HealthProbeResult } from './health-probes.js';
import type { EjectionReason } from './outlier-ejection.js';
import type { RPCInfo } from './rpc-info.js';

/** A breaker of the suite changed state (Kitex's `service_cb` / `instance_cb` events). */
export interface CBStateChangeEvent {
  readonly type: 'stateChange';
  readonly level: Level;
  /** The service key, or the instance address. */
  readonly key: string;
  readonly from: State;
  readonly to: State;
  /** `CLOSED`, `OPEN` or `HALFOPEN`. */
  readonly fromName: string;
  readonly toName: string;
  readonly cause: TransitionCause;
  /** Failed probes since the last close. */
  readonly attempt: number;
  /** For transitions to OPEN: how long it cools, in ms. */
  readonly coolingMs: number;
  /** With a fleet sync: whether the fleet shares this OPEN (or the HALF_OPEN and CLOSED that follow it). */
  readonly fleet: boolean;
  /** The window's counts at the moment of the transition. */
  readonly counts: Counts;
  /** Wall-clock time of the event, epoch ms. */
  readonly time: number;
  /** Kitex's event text: `key: OPEN -> HALFOPEN, (succ: 1, err: 2, timeout: 0, rate: 0.666667)`. */
  readonly detail: string;
}

/**
 * Where the breaker machinery failed for a call: making the key, checking the
 * breaker, recording the outcome, in the LB policy, or asking the `hedging`
 * function (the method is then not hedged).
 */
export type FaultPhase = 'key' | 'check' | 'record' | 'policy' | 'hedging';

/** The breaker machinery itself failed for a call; the call went through unprotected. */
export interface CBFaultEvent {
  readonly type: 'fault';
  readonly level: Level;
  readonly phase: FaultPhase;
  readonly key: string | undefined;
  readonly error: unknown;
  readonly time: number;
}

/**
 * The instance level entered or left panic mode (`panicThreshold`): while in
 * panic, calls are spread over every instance, tripped ones included.
 */
export interface CBPanicEvent {
  readonly type: 'panic';
  readonly level: 'instance';
  /** `true` when panic began, `false` when it ended. */
  readonly entered: boolean;
  /** Instances whose breakers allowed calls at the change. */
  readonly available: number;
  /** Instances listed at the change. */
  readonly total: number;
  /** The `panicThreshold` in force. */
  readonly threshold: number;
  /** Wall-clock time of the change, epoch ms. */
  readonly time: number;
}

/** Outlier ejection (`outlierDetection`) ejected an instance, or its ejection ended. */
export interface CBEjectionEvent {
  readonly type: 'ejection';
  readonly level: 'instance';
  /** The instance's address. */
  readonly key: string;
  /** `true` for an ejection, `false` when it ended. */
  readonly ejected: boolean;
  /** The rule that ejected it (`successRate`, `failurePercentage`, `latency`), or `expired`. */
  readonly reason: EjectionReason;
  /** For an ejection: how long it lasts, in ms. */
  readonly ejectionTimeMs: number;
  /** The instance's ejection count: grows on each ejection, decays by one per healthy interval. */
  readonly ejectionCount: number;
  /** Wall-clock time of the change, epoch ms. */
  readonly time: number;
}

/**
 * A health-checked probe (`healthCheck`) of a half-open instance ended:
 * `serving` counted as a successful probe, `notServing` as a failed one;
 * `unimplemented` (once per address) says the instance has no health service
 * and is probed with callers' calls from then on.
 */
export interface CBHealthProbeEvent {
  readonly type: 'healthProbe';
  readonly level: 'instance';
  /** The instance's address. */
  readonly key: string;
  readonly result: HealthProbeResult;
  /** The status the server answered, when the check ended OK with a readable response. */
  readonly servingStatus: ServingStatus | undefined;
  /** The gRPC status code the check ended with (`DEADLINE_EXCEEDED` after `healthCheck.timeoutMs`). */
  readonly code: number;
  readonly details: string;
  /** How long the check took, in ms. */
  readonly durationMs: number;
  /** Wall-clock time of the end, epoch ms. */
  readonly time: number;
}

export type CBEvent = CBStateChangeEvent | CBFaultEvent | CBPanicEvent | CBEjectionEvent | CBHealthProbeEvent;

/**
 * A config in force changed, by a call on this suite or by a config the fleet
 * published. Updates that leave a config as it was, and bad configs (which
 * change nothing), are not reported.
 */
export interface CBConfigChangeEvent {
  readonly type: 'configChange';
  readonly level: Level;
  /**
   * The service key or instance address; `undefined` for the default service
   * config or the config shared by every instance.
   */
  readonly key: string | undefined;
  readonly from: CBConfig;
  readonly to: CBConfig;
  /** `'local'`: an update, remove or publish call on this suite; `'fleet'`: a config received through its `sync`. */
  readonly source: 'local' | 'fleet';
  /** Wall-clock time of the change, epoch ms. */
  readonly time: number;
}

/** The last `capacity` events, oldest first (Kitex's `event.Queue`, 200 by default). */
export class EventRing<E> {
  private readonly items: E[] = [];
  private next = 0;
  constructor(private readonly capacity: number) {}
  push(e: E): void {
    if (this.capacity === 0) return;
    if (this.items.length < this.capacity) this.items.push(e);
    else this.items[this.next] = e;
    this.next = (this.next + 1) % this.capacity;
  }
  toArray(): E[] {
    return this.items.length < this.capacity
      ? [...this.items]
      : [...this.items.slice(this.next), ...this.items.slice(0, this.next)];
  }
}

/**
 * An attempt that failed in a way the retry rule allows retrying: retried
 * (`outcome: 'retried'`, after `delayMs`), or not, and why: `budget` (the
 * retry budget of the target service is spent), `pushback` (a server's
 * `grpc-retry-pushback-ms` said no, or asked for a wait past the deadline),
 * `methodFailing` (the method's error rate stops retries), `chainStop` (the
 * call is made while handling a retried request), `deadline` (the wait would
 * pass the deadline). The caller then gets the attempt's own status.
 */
export interface CBRetryEvent {
  readonly type: 'retry';
  readonly outcome: 'retried' | 'budget' | 'pushback' | 'methodFailing' | 'chainStop' | 'deadline';
  /** The call's service key. */
  readonly key: string;
  readonly rpcInfo: RPCInfo;
  /** The number of the attempt that failed (1 for the first). */
  readonly attempt: number;
  /** The failed attempt's status. */
  readonly status: StatusObject;
  /** The wait before the next attempt (0 when none follows). */
  readonly delayMs: number;
  /** Wall-clock time of the event, epoch ms. */
  readonly time: number;
}

/**
 * A hedge of a hedged call (the `hedging` option): sent (`outcome: 'hedged'`,
 * `delayMs` after the call started), or not, and why: `budget` (the retry
 * budget of the target service is spent), `pushback` (a server of the target
 * service asked for no retries yet), `methodFailing` (the method's error rate
 * stops retries), `chainStop` (the call is made while handling a retried
 * request). `won`: the call's answer came from a hedge, `attempt` tells which.
 */
export interface CBHedgeEvent {
  readonly type: 'hedge';
  readonly outcome: 'hedged' | 'won' | 'budget' | 'pushback' | 'methodFailing' | 'chainStop';
  /** The call's service key. */
  readonly key: string;
  readonly rpcInfo: RPCInfo;
  /** The number of the attempt the hedge is (2 for the first hedge). */
  readonly attempt: number;
  /** Time since the call started, ms. */
  readonly delayMs: number;
  /** Wall-clock time of the event, epoch ms. */
  readonly time: number;
}

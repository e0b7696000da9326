import { type Breaker, ErrorType, type Permit, State } from '@cbsuite/core';
import { type experimental, status as Status, type StatusObject } from '@grpc/grpc-js';
import type { BreakerLevel } from './breaker-level.js';
import type { CallRegistry, CallState, StreamEnd } from './call-registry.js';
import type { OutcomeContext } from './classify.js';
import type { HealthProbeResult, HealthProbes } from './health-probes.js';
import type { OutlierEjection } from './outlier-ejection.js';
import { PanicMode } from './panic-mode.js';
import type { RPCInfo } from './rpc-info.js';

const NO_RPC_INFO: RPCInfo = Object.freeze({ from: '', to: '', method: '', path: '' });

/**
 * The instance-level breaker: a level keyed by backend address, asked by the
 * suite's LB policy at pick time and fed one outcome per attempt. Its state
 * lives here, in the suite, not in the policy, so a channel that goes idle
 * and rebuilds its policy keeps it.
 */
export class InstanceLevel {
  /** How many live policies list each address. */
  private readonly refs = new Map<string, number>();
  private readonly lists = new Map<object, ReadonlySet<string>>();
  private attempts = 0;
  private drops = 0;
  private connectFailures = 0;

  constructor(
    readonly level: BreakerLevel,
    /** The calls in flight, which the picker reads. */
    readonly calls: CallRegistry,
    /** Envoy's panic threshold; off unless given. */
    readonly panic: PanicMode = new PanicMode(0),
    /** gRPC's outlier ejection; off unless given. */
    readonly outliers?: OutlierEjection,
    /** Health-checked probes (`healthCheck`); off unless given. */
    readonly health?: HealthProbes,
  ) {
    if (panic.enabled) {
      // In panic the picker already spreads calls over every instance, so a
      // trip would change no pick: it would only deepen the panic and put off
      // its end. A failing instance is judged again on its next failure after.
      level.tripsHeld = () => panic.inPanic;
      level.panel.onStateChange(() => this.reassess());
      outliers?.onChange(() => this.reassess());
    }
    this.latencyClock = level.latencyClock ?? (outliers === undefined ? undefined : level.panel.options.now);
  }

  /** The clock attempts are timed with, when something reads their latency (slow calls, outlier ejection). */
  readonly latencyClock: (() => number) | undefined;

  /** Whether outlier ejection has ejected `addr` now. */
  isEjected(addr: string): boolean {
    return this.outliers?.isEjected(addr) === true;
  }

  /**
   * A pick got the probe `permit` of a half-open `addr`: with health-checked
   * probes, a health check takes it and the pick is skipped (returns true).
   */
  probedByHealth(
    addr: string,
    breaker: Breaker | undefined,
    permit: Permit,
    subchannel: experimental.SubchannelInterface,
  ): boolean {
    return this.health !== undefined && breaker !== undefined && this.health.take(addr, breaker, permit, subchannel);
  }

  /**
   * In panic: whether a pick the breaker refused may go to `addr` anyway.
   * A forced-open instance is never used; every other one is.
   */
  usableInPanic(breaker: Breaker | undefined): boolean {
    if (breaker !== undefined && breaker.mode() === 'forcedOpen') return false;
    this.panic.pickedInPanic();
    return true;
  }

  /** Records the end of an attempt on `addr`, and how its stream ended (`end`). Never throws. */
  recordAttempt(
    addr: string,
    breaker: Breaker | undefined,
    permit: Permit,
    status: StatusObject,
    call: CallState | undefined,
    latencyMs: number | undefined,
    end?: StreamEnd,
  ): void {
    this.attempts++;
    if (breaker === undefined) return;
    const ctx: OutcomeContext = {
      level: 'instance',
      key: breaker.key,
      rpcInfo: call?.rpcInfo ?? NO_RPC_INFO,
      cancelledByCaller: end === 'local' && status.code === Status.CANCELLED,
      fromServer: end === undefined ? undefined : end === 'server',
    };
    this.toOutliers(addr, this.level.record(breaker, permit, status, ctx, latencyMs), latencyMs);
  }

  /**
   * Records an attempt on `addr` that ended OK, when the level's classifier
   * counts every OK a success (`level.okIsSuccess`): what
   * {@link recordAttempt} records for it, without a status or context to
   * classify. Never throws.
   */
  recordSuccess(addr: string, breaker: Breaker | undefined, permit: Permit, latencyMs: number | undefined): void {
    this.attempts++;
    if (breaker === undefined) return;
    this.toOutliers(addr, this.level.recordType(breaker, permit, ErrorType.Success, latencyMs), latencyMs);
  }

  // Tells outlier ejection how an attempt on `addr` went (`type` recorded,
  // undefined when recording failed).
  private toOutliers(addr: string, type: ErrorType | undefined, latencyMs: number | undefined): void {
    // An attempt that ends after its address left every list is not counted: its state was forgotten.
    if (this.outliers === undefined || !this.refs.has(addr)) return;
    const failed = type === undefined || type === ErrorType.Ignorable ? undefined : type !== ErrorType.Success;
    // An error answered at once says nothing of the instance's speed: an
    // overloaded instance refusing fast would look fast, and never be a
    // latency outlier.
    const timed = type === ErrorType.Success || type === ErrorType.Timeout;
    this.outliers.record(addr, failed, timed ? latencyMs : undefined);
  }

  /** A subchannel to `addr` failed to connect (Kitex's `ErrGetConnection`). */
  connectFailed(addr: string): void {
    this.connectFailures++;
    const breaker = this.level.breakerFor(addr);
    if (breaker === undefined) return;
    try {
      breaker.fail();
    } catch (err) {
      this.level.fault('record', addr, err);
    }
  }

  /** Counts a call the picker dropped because every instance it tried was tripped. */
  dropped(): void {
    this.drops++;
  }

  /**
   * A policy's address list changed. Addresses no live policy lists any more
   * lose their breakers (Kitex's discovery-change handling); a refcount keeps
   * that right when several channels share the suite.
   */
  updateAddresses(policy: object, addresses: readonly string[]): void {
    const before = this.lists.get(policy) ?? new Set<string>();
    const after = new Set(addresses);
    for (const a of after) if (!before.has(a)) this.refs.set(a, (this.refs.get(a) ?? 0) + 1);
    for (const a of before) {
      if (after.has(a)) continue;
      const n = (this.refs.get(a) ?? 1) - 1;
      if (n > 0) this.refs.set(a, n);
      else {
        this.refs.delete(a);
        this.level.panel.removeBreaker(a);
        this.outliers?.forget(a);
        this.health?.forget(a);
      }
    }
    this.lists.set(policy, after);
    this.sweep();
    this.reassess();
  }

  /**
   * A policy was destroyed (its channel went idle or closed). Its addresses
   * are no longer counted, but their breakers stay: a channel that leaves
   * idle builds a new policy, which finds them again.
   */
  detach(policy: object): void {
    const before = this.lists.get(policy);
    if (before === undefined) return;
    this.lists.delete(policy);
    for (const a of before) {
      const n = (this.refs.get(a) ?? 1) - 1;
      if (n > 0) this.refs.set(a, n);
      else this.refs.delete(a);
    }
    this.reassess();
  }

  /** Addresses listed by live policies. */
  addresses(): string[] {
    return [...this.refs.keys()];
  }

  /** grpc-js 1.14.3 stringifies channel options, where this object sits. */
  toJSON(): string {
    return '[CBSuite instance level]';
  }

  stats(): InstanceStats {
    return {
      attempts: this.attempts,
      retries: this.calls.retries,
      drops: this.drops,
      connectFailures: this.connectFailures,
      skips: this.level.rejections(),
      panic: this.panic.inPanic,
      panics: this.panic.panics,
      panicPicks: this.panic.panicPicks,
      ejections: this.outliers?.ejections ?? 0,
      ejected: this.outliers?.ejected() ?? [],
      healthProbes: this.health?.stats() ?? NO_HEALTH_PROBES,
    };
  }

  /** Whether `addr` allows calls now: not ejected, and no breaker yet or one that is CLOSED (not forced open). */
  isAvailable(addr: string): boolean {
    if (this.isEjected(addr)) return false;
    const b = this.level.panel.breaker(addr);
    return b === undefined || b.state() === State.Closed;
  }

  // Counts the listed instances that allow calls and tells panic mode. Runs
  // on every instance transition and address change, not per pick.
  private reassess(): void {
    if (!this.panic.enabled) return;
    let available = 0;
    for (const addr of this.refs.keys()) if (this.isAvailable(addr)) available++;
    this.panic.update(available, this.refs.size);
  }

  // Breakers of addresses no live policy lists (left by closed or idle
  // channels) are dropped once they hold nothing: CLOSED with an empty window.
  private sweep(): void {
    const panel = this.level.panel;
    for (const [addr, b] of panel.dumpBreakers()) {
      if (!this.refs.has(addr) && b.isIdle()) panel.removeBreaker(addr);
    }
  }
}

/** Counters of the instance level. */
export interface InstanceStats {
  /** Attempts that reached an instance and ended. */
  readonly attempts: number;
  /** Attempts the interceptor retried on another instance. */
  readonly retries: number;
  /** Calls failed fast because every instance tried was tripped. */
  readonly drops: number;
  /** Failed connection attempts to instances. */
  readonly connectFailures: number;
  /** Picks skipped because the picked instance was tripped, by address. */
  readonly skips: ReadonlyMap<string, number>;
  /** Whether the level is in panic now (`panicThreshold`). */
  readonly panic: boolean;
  /** Times the level entered panic. */
  readonly panics: number;
  /** Picks sent to an instance its breaker refused or outlier ejection ejected, because the level was in panic. */
  readonly panicPicks: number;
  /** Ejections by outlier ejection so far. */
  readonly ejections: number;
  /** Addresses ejected now. */
  readonly ejected: readonly string[];
  /** Health probes (`healthCheck`) by address and result, for the addresses listed. */
  readonly healthProbes: ReadonlyMap<string, Readonly<Record<HealthProbeResult, number>>>;
}

const NO_HEALTH_PROBES: ReadonlyMap<string, Readonly<Record<HealthProbeResult, number>>> = new Map();

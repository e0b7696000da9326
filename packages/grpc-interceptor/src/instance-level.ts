import { type Breaker, PERMIT, type Permit } from '@cbsuite/core';
import { status as Status, type StatusObject } from '@grpc/grpc-js';
import type { StreamEnd } from './attempt-transport.js';
import type { BreakerLevel } from './breaker-level.js';
import type { CallRegistry, CallState } from './call-registry.js';
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
  ) {}

  /**
   * Asks the breaker of `addr` for a permit. `NO_PERMIT` means the pick must
   * be skipped. A disabled config lets the pick through with no statistics.
   */
  admit(addr: string): { breaker: Breaker | undefined; permit: Permit } {
    const breaker = this.level.breakerFor(addr);
    return breaker === undefined ? { breaker, permit: PERMIT } : { breaker, permit: this.level.admit(breaker) };
  }

  /** Records the end of an attempt on `addr`, and how its stream ended (`end`). Never throws. */
  recordAttempt(
    breaker: Breaker | undefined,
    permit: Permit,
    status: StatusObject,
    call: CallState | undefined,
    latencyMs: number | undefined,
    end?: StreamEnd,
  ): void {
    this.attempts++;
    if (breaker === undefined) return;
    const facts = {
      rpcInfo: call?.rpcInfo ?? NO_RPC_INFO,
      cancelledByCaller: end === 'local' && status.code === Status.CANCELLED,
      fromServer: end === undefined ? undefined : end === 'server',
    };
    this.level.record(breaker, permit, status, facts, latencyMs);
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
      }
    }
    this.lists.set(policy, after);
    this.sweep();
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
    };
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
}

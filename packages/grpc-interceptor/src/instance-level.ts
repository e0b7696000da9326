import {
  type Breaker,
  ErrorType,
  isErrorType,
  NO_PERMIT,
  Panel,
  type PanelOptions,
  type Permit,
  State,
  show,
} from '@cbsuite/core';
import type { StatusObject } from '@grpc/grpc-js';
import type { CBConfigInput } from './cb-config.js';
import type { GetErrorTypeFunc } from './classify.js';
import { type CBTripFuncFactory, ConfigStore } from './config-store.js';
import type { RPCInfo } from './rpc-info.js';
import type { LevelHooks } from './service-level.js';

export interface InstanceLevelOptions {
  readonly panelOptions: PanelOptions;
  readonly defaults: CBConfigInput | undefined;
  readonly makeTrip: CBTripFuncFactory;
  readonly getErrorType: GetErrorTypeFunc;
}

/** A probe admitted at pick time, until its attempt starts. */
interface PendingProbe {
  readonly breaker: Breaker;
  readonly permit: Permit;
  started: boolean;
}

/** What the picker knows of one logical call, across its attempts. */
export class CallState {
  /** Addresses this call has been sent to (or skipped because they were tripped). */
  readonly tried: string[] = [];
  /** Whether a picker of this suite has seen the call. */
  picked = false;
  probe: PendingProbe | undefined = undefined;
  constructor(readonly rpcInfo: RPCInfo) {}
}

const NO_RPC_INFO: RPCInfo = Object.freeze({ from: '', to: '', method: '', path: '' });

/**
 * The instance-level breaker: a panel keyed by backend address, asked by the
 * suite's LB policy at pick time and fed one outcome per attempt. Its state
 * lives here, in the suite, not in the policy, so a channel that goes idle
 * and rebuilds its policy keeps it.
 */
export class InstanceLevel {
  readonly panel: Panel;
  /** One config for every instance (Kitex), with per-address overrides. */
  readonly configs: ConfigStore;
  /** How many live policies list each address. */
  private readonly refs = new Map<string, number>();
  private readonly lists = new Map<object, ReadonlySet<string>>();
  private readonly calls = new Map<number, CallState>();
  private nextCallId = 1;
  // Per breaker, so a removed or evicted address's count goes with its breaker.
  private readonly skips = new WeakMap<Breaker, number>();
  private attempts = 0;
  private retried = 0;
  private drops = 0;
  private connectFailures = 0;

  constructor(
    private readonly opts: InstanceLevelOptions,
    private readonly hooks: LevelHooks,
  ) {
    this.configs = new ConfigStore(opts.makeTrip, opts.defaults, 'instanceCBConfig');
    this.panel = new Panel(
      { ...opts.panelOptions, shouldTripWithKey: (addr) => this.configs.trip(addr) },
      (key, from, to, m, info) => hooks.stateChange('instance', key, from, to, m, info),
    );
  }

  /** Starts tracking a logical call; returns the id the picker will see in its metadata. */
  beginCall(rpcInfo: RPCInfo): number {
    const id = this.nextCallId++;
    if (this.nextCallId > 2 ** 31) this.nextCallId = 1;
    this.calls.set(id, new CallState(rpcInfo));
    return id;
  }

  /** The state of a call, for the picker. */
  call(id: number): CallState | undefined {
    return this.calls.get(id);
  }

  /** Ends a logical call: a probe taken for an attempt that never started is given back. */
  endCall(id: number): CallState | undefined {
    const state = this.calls.get(id);
    if (state === undefined) return undefined;
    this.calls.delete(id);
    this.releaseUnstarted(state);
    return state;
  }

  /** Calls in flight that the instance level tracks. */
  get callsInFlight(): number {
    return this.calls.size;
  }

  /** Gives back a probe whose attempt was picked but never started (grpc-js picked again, or the call ended). */
  releaseUnstarted(state: CallState): void {
    const p = state.probe;
    if (p !== undefined && !p.started) p.breaker.release(p.permit);
    state.probe = undefined;
  }

  /**
   * Asks the breaker of `addr` for a permit. `NO_PERMIT` means the pick must
   * be skipped. A disabled config lets the pick through with no statistics.
   */
  admit(addr: string): { breaker: Breaker | undefined; permit: Permit } {
    if (!this.configs.get(addr).enable) return { breaker: undefined, permit: 1 };
    const breaker = this.panel.getBreaker(addr);
    const permit = breaker.acquire();
    if (permit === NO_PERMIT) this.skips.set(breaker, (this.skips.get(breaker) ?? 0) + 1);
    return { breaker, permit };
  }

  /** Records the end of an attempt on `addr`. Never throws. */
  recordAttempt(
    addr: string,
    breaker: Breaker | undefined,
    permit: Permit,
    status: StatusObject,
    state: CallState | undefined,
    latencyMs: number | undefined,
  ): void {
    this.attempts++;
    if (breaker === undefined) return;
    try {
      const type = this.opts.getErrorType(status, {
        level: 'instance',
        key: addr,
        rpcInfo: state?.rpcInfo ?? NO_RPC_INFO,
        cancelledByCaller: false,
      });
      if (!isErrorType(type)) throw new TypeError(`the instance classifier returned ${show(type)}, not an ErrorType`);
      breaker.record(type, latencyMs, permit);
    } catch (err) {
      // The attempt went out: its probe keeps its detect interval, as for an ignorable outcome.
      breaker.record(ErrorType.Ignorable, undefined, permit);
      this.hooks.fault('instance', 'record', addr, err);
    }
  }

  /** A subchannel to `addr` failed to connect (Kitex's `ErrGetConnection`). */
  connectFailed(addr: string): void {
    this.connectFailures++;
    if (!this.configs.get(addr).enable) return;
    try {
      this.panel.fail(addr);
    } catch (err) {
      this.hooks.fault('instance', 'record', addr, err);
    }
  }

  /** Counts a call the picker dropped because every instance it tried was tripped. */
  dropped(): void {
    this.drops++;
  }

  /** Counts an attempt the interceptor retried on another instance. */
  retriedAttempt(): void {
    this.retried++;
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
        this.panel.removeBreaker(a);
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
      retries: this.retried,
      drops: this.drops,
      connectFailures: this.connectFailures,
      skips: this.skipsByAddress(),
    };
  }

  private skipsByAddress(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [addr, b] of this.panel.dumpBreakers()) {
      const n = this.skips.get(b);
      if (n !== undefined) out.set(addr, n);
    }
    return out;
  }

  // Breakers of addresses no live policy lists (left by closed or idle
  // channels) are dropped once they hold nothing: CLOSED with an empty window.
  private sweep(): void {
    for (const [addr, b] of this.panel.dumpBreakers()) {
      if (!this.refs.has(addr) && b.state() === State.Closed && b.mode() === 'normal' && b.metricer().samples() === 0) {
        this.panel.removeBreaker(addr);
      }
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
  /**
   * Picks skipped because the picked instance was tripped, by address, for
   * the addresses the instance panel holds (an address the resolver drops
   * takes its count with it).
   */
  readonly skips: ReadonlyMap<string, number>;
}

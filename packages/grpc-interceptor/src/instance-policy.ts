import { type Breaker, NO_PERMIT, PERMIT, type Permit } from '@cbsuite/core';
import type { experimental, StatusObject } from '@grpc/grpc-js';
import * as installedGrpc from '@grpc/grpc-js';
import { circuitBreakStatus } from './circuit-break-error.js';
import {
  type ChildHandlerConstructor,
  checkInstanceLevelSupport,
  constructorOptions,
  endpointsOf,
  noSubchannelPrefix,
  onCallEndedGetsStatus,
  type StatusSlot,
  withStatusSlot,
} from './grpc-compat.js';
import type { CallState, InstanceLevel } from './instance-level.js';

/** The name the instance-level policy is registered under. */
export const INSTANCE_POLICY_NAME = 'cbsuite_instance_cb';

/**
 * The channel option that hands a suite's instance level to the policy. Its
 * prefix keeps it out of subchannel arguments (and so out of subchannel
 * pooling) on grpc-js 1.13+, as grpc-js-xds does for its own live objects.
 */
export const INSTANCE_LEVEL_OPTION = `${noSubchannelPrefix(installedGrpc)}.cbsuite`;

/**
 * Private header the interceptor puts on each call so that the picker can
 * tell the attempts of one logical call apart. The picker strips it: it
 * never reaches the wire while the policy runs.
 */
export const CALL_ID_HEADER = 'x-cbsuite-call';

type Grpc = typeof installedGrpc;
type X = typeof experimental;

const registered = new WeakSet<object>();

/**
 * Registers the instance-level policy in a grpc-js module: by default the
 * copy this package resolves, or the one your clients use if that is another
 * copy. Idempotent. `CBSuite.channelOptions()` calls it for the default copy.
 *
 * @throws UnsupportedGrpcError when that grpc-js is older than 1.10.0 (its
 * experimental load-balancing API lacks what the policy needs).
 */
export function registerInstanceBreakerPolicy(grpc: Grpc = installedGrpc): void {
  const x = grpc.experimental;
  if (registered.has(x) && x.isLoadBalancerNameRegistered(INSTANCE_POLICY_NAME)) return;
  checkInstanceLevelSupport(grpc);
  const { Config, Policy } = makePolicy(grpc);
  x.registerLoadBalancerType(INSTANCE_POLICY_NAME, Policy, Config);
  registered.add(x);
}

/** Whether the policy is registered in `grpc` (default: the copy this package resolves). */
export function isInstanceBreakerPolicyRegistered(grpc: Grpc = installedGrpc): boolean {
  const x = grpc.experimental as Partial<X>;
  return x.isLoadBalancerNameRegistered?.(INSTANCE_POLICY_NAME) === true;
}

function isInstanceLevel(value: unknown): value is InstanceLevel {
  return typeof value === 'object' && value !== null && typeof (value as InstanceLevel).admit === 'function';
}

const CONFIG_FIELDS = ['child_policy'];

function makePolicy(grpc: Grpc) {
  const x: X = grpc.experimental;
  const { READY, CONNECTING, TRANSIENT_FAILURE } = grpc.connectivityState;

  /** `{ child_policy?: LoadBalancingConfig[] }`; the child defaults to round_robin. */
  class Config implements experimental.TypedLoadBalancingConfig {
    constructor(
      readonly child: experimental.TypedLoadBalancingConfig,
      private readonly raw: object[],
    ) {}
    getLoadBalancerName(): string {
      return INSTANCE_POLICY_NAME;
    }
    toJsonObject(): object {
      return { [INSTANCE_POLICY_NAME]: { child_policy: this.raw } };
    }
    static createFromJson(obj: unknown): Config {
      const where = `${INSTANCE_POLICY_NAME} config`;
      if (obj !== undefined && (obj === null || typeof obj !== 'object' || Array.isArray(obj))) {
        throw new Error(`${where} must be an object, got ${JSON.stringify(obj)}`);
      }
      const o = (obj ?? {}) as Record<string, unknown>;
      for (const k of Object.keys(o)) {
        if (!CONFIG_FIELDS.includes(k)) throw new Error(`${where} has an unknown field ${JSON.stringify(k)}`);
      }
      const raw = o.child_policy ?? [{ round_robin: {} }];
      if (!Array.isArray(raw) || raw.length === 0) {
        throw new Error(`${where}: child_policy must be a non-empty array of LB configs, got ${JSON.stringify(raw)}`);
      }
      const child = x.selectLbConfigFromList(raw);
      if (child === null) {
        throw new Error(`${where}: no policy of child_policy is registered in this grpc-js: ${JSON.stringify(raw)}`);
      }
      if (child.getLoadBalancerName() === INSTANCE_POLICY_NAME)
        throw new Error(`${where}: child_policy cannot be itself`);
      return new Config(child, raw as object[]);
    }
  }

  const ChildHandler = x.ChildLoadBalancerHandler as unknown as ChildHandlerConstructor;

  // The signatures are grpc-js 1.14's; see grpc-compat.ts for what older versions pass.
  class Policy implements experimental.LoadBalancer {
    private readonly child: experimental.ChildLoadBalancerHandler;
    private level: InstanceLevel | undefined;
    private endpoints = 1;
    private readonly watched = new Map<
      string,
      [experimental.SubchannelInterface, experimental.ConnectivityStateListener]
    >();
    /** The channel options, on versions that give them to the constructor (1.10–1.12). */
    private readonly channelOptions: Record<string, unknown> | undefined;

    // `rest`, `more`: what a version passes beyond 1.14's arguments (options
    // and credentials to the constructor, a credentials override to
    // createSubchannel in 1.12), handed on unchanged.
    constructor(helper: experimental.ChannelControlHelper, ...rest: unknown[]) {
      this.channelOptions = constructorOptions(rest);
      const childHelper = x.createChildChannelControlHelper(helper, {
        updateState: (state, picker, ...more: [string | null]) => {
          const level = this.level;
          helper.updateState(
            state,
            state === READY && level !== undefined ? new BreakerPicker(picker, level, this.endpoints, x) : picker,
            ...more,
          );
        },
        createSubchannel: (address, args, ...more: []) => {
          const sc = helper.createSubchannel(address, args, ...more);
          this.watch(sc);
          return sc;
        },
      });
      this.child = new ChildHandler(childHelper, ...rest);
    }

    updateAddressList(
      endpoints: experimental.StatusOr<experimental.Endpoint[]>,
      config: experimental.TypedLoadBalancingConfig,
      options: Record<string, unknown>,
      note: string,
    ): boolean {
      if (!(config instanceof Config)) return false;
      const level = options?.[INSTANCE_LEVEL_OPTION] ?? this.channelOptions?.[INSTANCE_LEVEL_OPTION];
      this.level = isInstanceLevel(level) ? level : undefined;
      const list = endpointsOf(endpoints);
      if (list !== undefined) {
        const addresses = list.flatMap((e) => e.addresses.map((a) => x.subchannelAddressToString(a)));
        this.endpoints = Math.max(1, addresses.length);
        this.level?.updateAddresses(this, addresses);
      }
      // Versions before 1.14 return nothing; they ignore what this returns.
      return this.child.updateAddressList(endpoints, config.child, options, note) !== false;
    }

    exitIdle(): void {
      this.child.exitIdle();
    }

    resetBackoff(): void {
      this.child.resetBackoff();
    }

    destroy(): void {
      for (const [sc, listener] of this.watched.values()) sc.removeConnectivityStateListener(listener);
      this.watched.clear();
      this.level?.detach(this);
      this.child.destroy();
    }

    getTypeName(): string {
      return INSTANCE_POLICY_NAME;
    }

    // A subchannel that fails to connect is Kitex's ErrGetConnection. The
    // child makes a new subchannel per address on every update; the old
    // listener goes with the old one.
    private watch(sc: experimental.SubchannelInterface): void {
      const address = sc.getAddress();
      const old = this.watched.get(address);
      if (old !== undefined) old[0].removeConnectivityStateListener(old[1]);
      const listener: experimental.ConnectivityStateListener = (sub, previous, next) => {
        if (previous === CONNECTING && next === TRANSIENT_FAILURE) this.level?.connectFailed(sub.getAddress());
      };
      sc.addConnectivityStateListener(listener);
      this.watched.set(address, [sc, listener]);
    }
  }

  return { Config, Policy };
}

/**
 * Wraps the child's picker: asks each picked instance's breaker before
 * returning the pick. A tripped instance (or one this call already tried) is
 * skipped and the child asked again, up to `max(6, 2 × endpoints)` picks
 * (Kitex's resolve loop makes 6 and may pick a tried instance again). When
 * every candidate is tripped the call is dropped: it fails at once with
 * `UNAVAILABLE` and the instance marker, and grpc-js does not retry it.
 */
export class BreakerPicker implements experimental.Picker {
  /** Whether onCallEnded gets only the code, so the status is read off the subchannel call (≤ 1.13). */
  private readonly slotted: boolean;

  constructor(
    private readonly child: experimental.Picker,
    private readonly level: InstanceLevel,
    private readonly endpoints: number,
    private readonly x: X,
  ) {
    this.slotted = !onCallEndedGetsStatus(x);
  }

  pick(args: experimental.PickArgs): experimental.PickResult {
    const level = this.level;
    let state: CallState | undefined;
    const ids = args.metadata.get(CALL_ID_HEADER);
    if (ids.length > 0) {
      args.metadata.remove(CALL_ID_HEADER);
      state = level.call(Number(ids[0]));
      if (state !== undefined) {
        state.picked = true;
        // grpc-js picks again when a picked subchannel stopped being READY
        // before the attempt started: that probe was never used.
        level.releaseUnstarted(state);
      }
    }
    const COMPLETE = this.x.PickResultType.COMPLETE;
    const picks = Math.max(6, 2 * this.endpoints);
    let triedAgain: experimental.PickResult | undefined;
    for (let i = 0; i < picks; i++) {
      const r = this.child.pick(args);
      if (r.pickResultType !== COMPLETE || r.subchannel === null) return r;
      const addr = r.subchannel.getAddress();
      if (state?.tried.includes(addr)) {
        triedAgain ??= r;
        continue;
      }
      const { breaker, permit } = level.admit(addr);
      if (permit !== NO_PERMIT) return this.wrap(r, addr, breaker, permit, state);
    }
    // Every instance not yet tried is tripped: go back to one already tried, if it is allowed.
    if (triedAgain?.subchannel) {
      const addr = triedAgain.subchannel.getAddress();
      const { breaker, permit } = level.admit(addr);
      if (permit !== NO_PERMIT) return this.wrap(triedAgain, addr, breaker, permit, state);
    }
    level.dropped();
    return {
      pickResultType: this.x.PickResultType.DROP,
      subchannel: null,
      status: circuitBreakStatus('instance', undefined) as StatusObject,
      onCallStarted: null,
      onCallEnded: null,
    };
  }

  private wrap(
    r: experimental.PickResult,
    addr: string,
    breaker: Breaker | undefined,
    permit: Permit,
    state: CallState | undefined,
  ): experimental.PickResult {
    const level = this.level;
    const o = level.panel.options;
    const pickedAt = o.trackSlow ? o.now() : 0;
    const probe = permit > PERMIT && breaker !== undefined ? { breaker, permit, started: false } : undefined;
    if (state !== undefined) {
      state.tried.push(addr);
      state.probe = probe;
    }
    const childStarted = r.onCallStarted;
    const childEnded = r.onCallEnded;
    const slot: StatusSlot | undefined = this.slotted ? { status: undefined } : undefined;
    return {
      pickResultType: r.pickResultType,
      subchannel: slot !== undefined && r.subchannel !== null ? withStatusSlot(r.subchannel, slot) : r.subchannel,
      status: r.status,
      onCallStarted: () => {
        if (probe !== undefined) probe.started = true;
        childStarted?.();
      },
      onCallEnded: (code, details, metadata) => {
        const latency = o.trackSlow ? o.now() - pickedAt : undefined;
        let status: StatusObject;
        if (details !== undefined) status = { code, details, metadata };
        else if (slot?.status?.code === code) status = slot.status;
        else status = { code, details: '', metadata: new installedGrpc.Metadata() };
        level.recordAttempt(addr, breaker, permit, status, state, latency);
        childEnded?.(code, details, metadata);
      },
    };
  }
}

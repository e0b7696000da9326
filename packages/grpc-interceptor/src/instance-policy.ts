import type { experimental } from '@grpc/grpc-js';
import * as installedGrpc from '@grpc/grpc-js';
import {
  type ChildHandlerConstructor,
  checkInstanceLevelSupport,
  constructorOptions,
  endpointsOf,
  noSubchannelPrefix,
} from './grpc-compat.js';
import type { InstanceLevel } from './instance-level.js';
import { BreakerPicker } from './instance-picker.js';

/** The name the instance-level policy is registered under. */
export const INSTANCE_POLICY_NAME = 'cbsuite_instance_cb';

/**
 * The channel option that hands a suite's instance level to the policy. Its
 * prefix keeps it out of subchannel arguments (and so out of subchannel
 * pooling) on grpc-js 1.13+, as grpc-js-xds does for its own live objects.
 */
export const INSTANCE_LEVEL_OPTION = `${noSubchannelPrefix(installedGrpc)}.cbsuite`;

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
  // The classes bound to this copy of grpc-js: the channel constructs them.
  class Config extends InstancePolicyConfig {
    static createFromJson(obj: unknown): Config {
      return InstancePolicyConfig.parse(x, obj);
    }
  }
  class Policy extends InstancePolicy {
    constructor(helper: experimental.ChannelControlHelper, ...rest: unknown[]) {
      super(grpc, helper, rest);
    }
  }
  x.registerLoadBalancerType(INSTANCE_POLICY_NAME, Policy, Config);
  registered.add(x);
}

/** Whether the policy is registered in `grpc` (default: the copy this package resolves). */
export function isInstanceBreakerPolicyRegistered(grpc: Grpc = installedGrpc): boolean {
  const x = grpc.experimental as Partial<X>;
  return x.isLoadBalancerNameRegistered?.(INSTANCE_POLICY_NAME) === true;
}

function isInstanceLevel(value: unknown): value is InstanceLevel {
  return typeof value === 'object' && value !== null && typeof (value as InstanceLevel).recordAttempt === 'function';
}

const CONFIG_FIELDS = ['child_policy'];

/** `{ child_policy?: LoadBalancingConfig[] }`; the child defaults to round_robin. */
class InstancePolicyConfig implements experimental.TypedLoadBalancingConfig {
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

  static parse(x: X, obj: unknown): InstancePolicyConfig {
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
    return new InstancePolicyConfig(child, raw as object[]);
  }
}

/**
 * The instance-level LB policy: runs the child policy and wraps its picker in
 * a {@link BreakerPicker} while READY. It owns no breaker state (the suite's
 * instance level does); it reports its address list and failed connections.
 * The signatures are grpc-js 1.14's; see grpc-compat.ts for what older
 * versions pass.
 */
class InstancePolicy implements experimental.LoadBalancer {
  private readonly x: X;
  private readonly child: experimental.ChildLoadBalancerHandler;
  private level: InstanceLevel | undefined;
  private endpoints = 1;
  private readonly watched = new Map<
    string,
    [experimental.SubchannelInterface, experimental.ConnectivityStateListener]
  >();
  /** The channel options, on versions that give them to the constructor (1.10–1.12). */
  private readonly channelOptions: Record<string, unknown> | undefined;
  private readonly states: Grpc['connectivityState'];

  // `rest`, `more`: what a version passes beyond 1.14's arguments (options
  // and credentials to the constructor, a credentials override to
  // createSubchannel in 1.12), handed on unchanged.
  constructor(grpc: Grpc, helper: experimental.ChannelControlHelper, rest: unknown[]) {
    const x = grpc.experimental;
    this.x = x;
    this.states = grpc.connectivityState;
    this.channelOptions = constructorOptions(rest);
    const childHelper = x.createChildChannelControlHelper(helper, {
      updateState: (state, picker, ...more: [string | null]) => {
        const level = this.level;
        const wrap = state === this.states.READY && level !== undefined;
        helper.updateState(state, wrap ? new BreakerPicker(picker, level, this.endpoints, x) : picker, ...more);
      },
      createSubchannel: (address, args, ...more: []) => {
        const sc = helper.createSubchannel(address, args, ...more);
        this.watch(sc);
        return sc;
      },
    });
    const ChildHandler = x.ChildLoadBalancerHandler as unknown as ChildHandlerConstructor;
    this.child = new ChildHandler(childHelper, ...rest);
  }

  updateAddressList(
    endpoints: experimental.StatusOr<experimental.Endpoint[]>,
    config: experimental.TypedLoadBalancingConfig,
    options: Record<string, unknown>,
    note: string,
  ): boolean {
    if (!(config instanceof InstancePolicyConfig)) return false;
    const level = options?.[INSTANCE_LEVEL_OPTION] ?? this.channelOptions?.[INSTANCE_LEVEL_OPTION];
    this.level = isInstanceLevel(level) ? level : undefined;
    const list = endpointsOf(endpoints);
    if (list !== undefined) {
      const addresses = list.flatMap((e) => e.addresses.map((a) => this.x.subchannelAddressToString(a)));
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
    const { CONNECTING, TRANSIENT_FAILURE } = this.states;
    const listener: experimental.ConnectivityStateListener = (sub, previous, next) => {
      if (previous === CONNECTING && next === TRANSIENT_FAILURE) this.level?.connectFailed(sub.getAddress());
    };
    sc.addConnectivityStateListener(listener);
    this.watched.set(address, [sc, listener]);
  }
}

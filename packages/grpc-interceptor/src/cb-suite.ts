import {
  checkFunction,
  checkInteger,
  checkKeys,
  countsOf,
  type FleetSync,
  type Metricer,
  type Mode,
  OptionRangeError,
  OptionTypeError,
  type Panel,
  type PanelOptions,
  rateTripFunc,
  resolvePanelOptions,
  State,
  stateName,
  type TransitionInfo,
} from '@cbsuite/core';
import * as installedGrpc from '@grpc/grpc-js';
import { type ChannelOptions, type Interceptor, Metadata, status as Status, type StatusObject } from '@grpc/grpc-js';
import type { CallObserver } from './call-observer.js';
import type { CBConfig, CBConfigInput } from './cb-config.js';
import {
  errorTypeOnInstanceLevel,
  errorTypeOnServiceLevel,
  type GetErrorTypeFunc,
  type InstanceFailureCode,
  instanceErrorTypeWithCodes,
  type Level,
  wrapErrorTypeFunc,
} from './classify.js';
import type { CBTripFuncFactory } from './config-store.js';
import {
  type CBConfigChangeEvent,
  type CBEvent,
  type CBFaultEvent,
  type CBStateChangeEvent,
  EventRing,
  Listeners,
} from './events.js';
import { grpcVersionOf } from './grpc-compat.js';
import type { AttemptPlan } from './guarded-call.js';
import { InstanceLevel, type InstanceStats } from './instance-level.js';
import { INSTANCE_LEVEL_OPTION, INSTANCE_POLICY_NAME, registerInstanceBreakerPolicy } from './instance-policy.js';
import { type GenServiceCBKeyFunc, type RPCInfo, rpcInfo2Key } from './rpc-info.js';
import { type Routing, ServiceLevel } from './service-level.js';

/** Breaker options a suite passes to the breakers of one level: timing, probes, backoff, slow calls, clock, `maxKeys`. */
export type BreakerTimingOptions = Omit<PanelOptions, 'shouldTrip' | 'shouldTripWithKey'>;

/** Options of a {@link CBSuite}. Everything defaults to Kitex's behaviour. */
export interface CBSuiteOptions {
  /** The calling service: the `from` of every key. Default `''`. */
  readonly fromService?: string;
  /** Config of service keys that have none of their own. Default `{enable: true, errRate: 0.5, minSample: 200}`. */
  readonly defaultServiceCBConfig?: CBConfigInput;
  /** The config shared by every instance. Default `{enable: true, errRate: 0.5, minSample: 200}`. */
  readonly instanceCBConfig?: CBConfigInput;
  /** Window, cooling, detect, half-open, backoff and probe options of the service breakers (gopkg defaults). */
  readonly serviceBreaker?: BreakerTimingOptions;
  /** The same for the instance breakers. */
  readonly instanceBreaker?: BreakerTimingOptions;
  /** Replaces the service classifier (Kitex's `WithServiceGetErrorType`). */
  readonly serviceGetErrorType?: GetErrorTypeFunc;
  /** Asked when the service classifier says success (Kitex's `WithWrappedServiceGetErrorType`). */
  readonly wrappedServiceGetErrorType?: GetErrorTypeFunc;
  /** Replaces the instance classifier (Kitex's `WithInstanceGetErrorType`). */
  readonly instanceGetErrorType?: GetErrorTypeFunc;
  /** Asked when the instance classifier says success (Kitex's `WithWrappedInstanceGetErrorType`). */
  readonly wrappedInstanceGetErrorType?: GetErrorTypeFunc;
  /**
   * Server-returned codes that count against the instance too, besides
   * connection-level errors: any of `UNAVAILABLE`, `RESOURCE_EXHAUSTED`,
   * `DEADLINE_EXCEEDED`. Default none (Kitex counts connection errors only).
   */
  readonly instanceFailureCodes?: readonly InstanceFailureCode[];
  /** Builds a service key's trip func from its config. Default `rateTripFunc(errRate, minSample)`. */
  readonly serviceTripFunc?: CBTripFuncFactory;
  /** Builds an instance's trip func from its config. Default `rateTripFunc(errRate, minSample)`. */
  readonly instanceTripFunc?: CBTripFuncFactory;
  /**
   * Most attempts of a unary call when attempts are retried on other
   * instances (see the README's retry rule). Default 3; 1 turns retries off.
   */
  readonly maxAttempts?: number;
  /**
   * Methods safe to run twice. Their unary attempts are retried on another
   * instance after a connection-level failure too, up to the call's status,
   * though the server may have processed them; their response headers and
   * reply are held back until the status. Default: none.
   */
  readonly idempotent?: (ri: RPCInfo) => boolean;
  /**
   * When a call of the suite reaches a server through a channel that does not
   * run the instance policy (grpc-js fell back to pick_first): `'fail'`
   * (default) fails the suite's calls from then on with `FAILED_PRECONDITION`
   * and the fix; `'warn'` only reports it.
   */
  readonly onMissingPolicy?: 'fail' | 'warn';
  /** Events kept for `recentEvents()`. Default 200 (Kitex's event queue). */
  readonly eventQueueSize?: number;
  /**
   * Shares both levels' breakers with the other replicas of this client, for
   * example through `new RedisSync({ redis, namespace })` of
   * `@cbsuite/redis-sync`. Service keys are shared under the scope `service`,
   * instance addresses under `instance`; configs published with the
   * `publish*` methods reach every node.
   */
  readonly sync?: FleetSync;
}

const OPTION_NAMES = [
  'fromService',
  'defaultServiceCBConfig',
  'instanceCBConfig',
  'serviceBreaker',
  'instanceBreaker',
  'serviceGetErrorType',
  'wrappedServiceGetErrorType',
  'instanceGetErrorType',
  'wrappedInstanceGetErrorType',
  'instanceFailureCodes',
  'serviceTripFunc',
  'instanceTripFunc',
  'maxAttempts',
  'idempotent',
  'onMissingPolicy',
  'eventQueueSize',
  'sync',
];

/** Config scopes of a suite on a fleet sync. */
const CONFIG_SCOPES = {
  service: 'cb-service',
  serviceDefault: 'cb-service-default',
  instance: 'cb-instance',
  instanceDefault: 'cb-instance-default',
} as const;

/** Child policies the instance policy may wrap. */
export type ChildPolicy = 'round_robin' | 'weighted_round_robin' | 'pick_first' | readonly object[];

/** Options of {@link CBSuite.channelOptions}. */
export interface ChannelOptionsInput {
  /**
   * The policy the instance breaker wraps. Default `round_robin`.
   * `weighted_round_robin` (grpc-js 1.14+) works the same way. With `pick_first` every call
   * goes to one instance: when its breaker trips there is no other to pick,
   * so calls fail fast until it closes.
   */
  readonly childPolicy?: ChildPolicy;
  /** More service config for the channel (for example `methodConfig`); its `loadBalancingConfig` is replaced. */
  readonly serviceConfig?: Record<string, unknown>;
  /** The grpc-js module your clients are built with, if it is not the copy this package resolves. */
  readonly grpc?: typeof installedGrpc;
}

/** Kitex's `Dump()` of one panel: non-CLOSED breakers, or a message when all are closed. */
export type CBDebugInfo = Record<string, Record<string, string | number>> | { msg: string };

/** Kitex's `Dump()` shape, plus the default service config and the per-address overrides. */
export interface CBDump {
  readonly service: CBDebugInfo;
  readonly instance: CBDebugInfo;
  readonly cb_config: {
    readonly service: Record<string, CBConfig>;
    readonly instance: CBConfig;
    readonly service_default: CBConfig;
    readonly instance_overrides: Record<string, CBConfig>;
  };
}

/** Counters of both levels. */
export interface CBSuiteStats {
  readonly service: {
    /**
     * Calls rejected per key, for the keys the service panel holds (a key it
     * evicts for `maxKeys`, or removes, takes its count with it).
     */
    readonly rejections: ReadonlyMap<string, number>;
    readonly faults: number;
  };
  readonly instance: InstanceStats;
}

const defaultTrip: CBTripFuncFactory = (cfg) => rateTripFunc(cfg.errRate, cfg.minSample);

/**
 * Kitex's `CBSuite` for `@grpc/grpc-js` clients: a service-level breaker per
 * `from/to/method`, in a client interceptor, and an instance-level breaker
 * per backend address, in a load-balancing policy. Use one suite per client
 * (or per group of clients calling the same service).
 *
 * ```text
 * call → service breaker (interceptor) → grpc-js retries → LB pick → instance breaker (picker) → transport
 * ```
 */
export class CBSuite {
  readonly fromService: string;
  private readonly service: ServiceLevel;
  private readonly instance: InstanceLevel;
  private readonly stateListeners = new Listeners<CBStateChangeEvent>();
  private readonly faultListeners = new Listeners<CBFaultEvent>();
  private readonly configListeners = new Listeners<CBConfigChangeEvent>();
  /** Where config changes come from right now: the fleet while its configs are applied. */
  private configSource: CBConfigChangeEvent['source'] = 'local';
  private readonly ring: EventRing<CBEvent>;
  private readonly maxAttempts: number;
  private readonly idempotent: (ri: RPCInfo) => boolean;
  private readonly onMissingPolicy: 'fail' | 'warn';
  private instanceInUse = false;
  private misconfigured: StatusObject | undefined;
  private faults = 0;
  private readonly warned = new Set<string>();
  private readonly sync: FleetSync | undefined;
  private readonly unsubscribe: (() => void)[] = [];
  private closed = false;

  /**
   * @param genServiceKey makes the service key of a call; default {@link rpcInfo2Key} (`from/to/method`).
   * @throws OptionTypeError, OptionRangeError or CBConfigError naming the bad option by the path written
   *   (`serviceBreaker.coolingTimeoutMs`, `defaultServiceCBConfig.errRate`); `null` is refused like any wrong type.
   */
  constructor(genServiceKey?: GenServiceCBKeyFunc, options: CBSuiteOptions = {}) {
    const o = checkKeys('CBSuite options', options, OPTION_NAMES) as CBSuiteOptions;
    const genKey =
      genServiceKey === undefined ? rpcInfo2Key : checkFunction<GenServiceCBKeyFunc>('genServiceKey', genServiceKey);
    const fromService = o.fromService === undefined ? '' : o.fromService;
    if (typeof fromService !== 'string') throw new OptionTypeError('fromService', fromService, 'must be a string');
    this.fromService = fromService;
    const fn = <F extends (...args: never[]) => unknown>(name: keyof CBSuiteOptions): F | undefined =>
      o[name] === undefined ? undefined : checkFunction<F>(name, o[name]);

    let serviceType: GetErrorTypeFunc = fn<GetErrorTypeFunc>('serviceGetErrorType') ?? errorTypeOnServiceLevel;
    const wrappedService = fn<GetErrorTypeFunc>('wrappedServiceGetErrorType');
    if (wrappedService) serviceType = wrapErrorTypeFunc(wrappedService, serviceType);
    const codes = o.instanceFailureCodes;
    if (codes !== undefined && !Array.isArray(codes)) {
      throw new OptionTypeError('instanceFailureCodes', codes, 'must be an array');
    }
    let instanceType: GetErrorTypeFunc =
      fn<GetErrorTypeFunc>('instanceGetErrorType') ??
      (codes === undefined ? errorTypeOnInstanceLevel : instanceErrorTypeWithCodes(codes));
    const wrappedInstance = fn<GetErrorTypeFunc>('wrappedInstanceGetErrorType');
    if (wrappedInstance) instanceType = wrapErrorTypeFunc(wrappedInstance, instanceType);

    this.maxAttempts = o.maxAttempts === undefined ? 3 : checkInteger('maxAttempts', o.maxAttempts, 1, 10);
    this.idempotent = fn<(ri: RPCInfo) => boolean>('idempotent') ?? (() => false);
    const missing = o.onMissingPolicy === undefined ? 'fail' : o.onMissingPolicy;
    if (missing !== 'fail' && missing !== 'warn') {
      throw new OptionTypeError('onMissingPolicy', missing, 'must be "fail" or "warn"');
    }
    this.onMissingPolicy = missing;
    this.ring = new EventRing(
      o.eventQueueSize === undefined ? 200 : checkInteger('eventQueueSize', o.eventQueueSize, 0, 100_000),
    );

    const hooks = {
      stateChange: (level: Level, key: string, from: State, to: State, m: Metricer, info: TransitionInfo) =>
        this.onTransition(level, key, from, to, m, info),
      fault: (level: Level, phase: CBFaultEvent['phase'], key: string | undefined, error: unknown) =>
        this.fault(level, phase, key, error),
    };
    const instanceTiming = timing('instanceBreaker', o.instanceBreaker);
    const serviceTiming = timing('serviceBreaker', o.serviceBreaker);
    const instanceTrip = fn<CBTripFuncFactory>('instanceTripFunc') ?? defaultTrip;
    const serviceTrip = fn<CBTripFuncFactory>('serviceTripFunc') ?? defaultTrip;
    this.instance = new InstanceLevel(
      {
        panelOptions: instanceTiming,
        defaults: o.instanceCBConfig,
        makeTrip: instanceTrip,
        getErrorType: instanceType,
      },
      hooks,
    );
    this.service = new ServiceLevel(
      {
        fromService,
        genKey,
        getErrorType: serviceType,
        panelOptions: serviceTiming,
        defaults: o.defaultServiceCBConfig,
        makeTrip: serviceTrip,
      },
      hooks,
      this.routing(),
    );
    this.service.configs.watch((key, from, to) => this.configChanged('service', key, from, to));
    this.instance.configs.watch((key, from, to) => this.configChanged('instance', key, from, to));
    this.sync = o.sync === undefined ? undefined : checkSync(o.sync);
    if (this.sync !== undefined) this.joinFleet(this.sync);
  }

  // Shares both panels and takes the fleet's configs (validated like local ones).
  private joinFleet(sync: FleetSync): void {
    sync.attach(this.service.panel, 'service');
    sync.attach(this.instance.panel, 'instance');
    this.unsubscribe.push(
      sync.onConfig(CONFIG_SCOPES.service, (key, v) => this.fromFleet(() => this.service.configs.update(key, v))),
      sync.onConfig(CONFIG_SCOPES.serviceDefault, (_key, v) =>
        this.fromFleet(() => this.service.configs.updateDefault(v)),
      ),
      sync.onConfig(CONFIG_SCOPES.instance, (key, v) => this.fromFleet(() => this.instance.configs.update(key, v))),
      sync.onConfig(CONFIG_SCOPES.instanceDefault, (_key, v) =>
        this.fromFleet(() => this.instance.configs.updateDefault(v)),
      ),
    );
  }

  private fromFleet(apply: () => void): void {
    this.configSource = 'fleet';
    try {
      apply();
    } finally {
      this.configSource = 'local';
    }
  }

  private configChanged(level: Level, key: string | undefined, from: CBConfig, to: CBConfig): void {
    if (this.configListeners.size === 0) return;
    const e: CBConfigChangeEvent = {
      type: 'configChange',
      level,
      key,
      from,
      to,
      source: this.configSource,
      time: Date.now(),
    };
    for (const err of this.configListeners.emit(e)) this.warn('listener', err);
  }

  /**
   * Sets a service key's config here and on every node of the fleet (nodes
   * that join later included). Validated first: a bad config throws a
   * `CBConfigError` and changes nothing. Needs the `sync` option.
   */
  async publishServiceCBConfig(key: string, cfg: CBConfigInput): Promise<void> {
    const sync = this.fleet();
    const full = this.service.configs.update(key, cfg);
    await sync.publishConfig(CONFIG_SCOPES.service, key, full);
  }

  /** Sets the default service config here and on every node. */
  async publishDefaultServiceCBConfig(cfg: CBConfigInput): Promise<void> {
    const sync = this.fleet();
    const full = this.service.configs.updateDefault(cfg);
    await sync.publishConfig(CONFIG_SCOPES.serviceDefault, '', full);
  }

  /** Sets the shared instance config here and on every node. */
  async publishInstanceCBConfig(cfg: CBConfigInput): Promise<void> {
    const sync = this.fleet();
    const full = this.instance.configs.updateDefault(cfg);
    await sync.publishConfig(CONFIG_SCOPES.instanceDefault, '', full);
  }

  /** Sets one instance's config here and on every node. */
  async publishInstanceCBConfigFor(address: string, cfg: CBConfigInput): Promise<void> {
    const sync = this.fleet();
    const full = this.instance.configs.update(address, cfg);
    await sync.publishConfig(CONFIG_SCOPES.instance, address, full);
  }

  /**
   * Forces `mode` on a service key here and on every node of the fleet, nodes
   * that join later included: `forcedOpen`, `disabled`, `metricsOnly`, or
   * `normal` to clear. Needs the `sync` option.
   */
  async publishServiceMode(key: string, mode: Mode): Promise<void> {
    await this.fleet().publishMode('service', key, mode);
  }

  /** Forces `mode` on one instance (by address) here and on every node of the fleet. */
  async publishInstanceMode(address: string, mode: Mode): Promise<void> {
    await this.fleet().publishMode('instance', address, mode);
  }

  private fleet(): FleetSync {
    if (this.sync === undefined) throw new Error('publishing to the fleet needs the CBSuite option `sync`');
    return this.sync;
  }

  /** The client interceptor of the service-level breaker. Put it first: it must be the outermost. */
  interceptor(): Interceptor {
    return this.service.interceptor;
  }

  /**
   * The suite's interceptor followed by `others`, for the `interceptors` call
   * option: grpc-js drops the client's interceptors for a call that passes
   * its own, which would also drop the breaker.
   */
  interceptors(...others: Interceptor[]): Interceptor[] {
    return [this.service.interceptor, ...others];
  }

  /**
   * Channel options that turn on the instance-level breaker for a channel:
   * the `cbsuite_instance_cb` policy over `childPolicy`, and the suite it
   * reports to. Registers the policy in the grpc-js copy (idempotent).
   */
  channelOptions(input: ChannelOptionsInput = {}): ChannelOptions {
    const o = checkKeys('channelOptions options', input, [
      'childPolicy',
      'serviceConfig',
      'grpc',
    ]) as ChannelOptionsInput;
    const grpc = o.grpc === undefined ? installedGrpc : o.grpc;
    if (typeof grpc?.experimental?.registerLoadBalancerType !== 'function') {
      throw new OptionTypeError('grpc', grpc, 'must be the @grpc/grpc-js module');
    }
    const child = o.childPolicy === undefined ? 'round_robin' : o.childPolicy;
    let childPolicy: readonly object[];
    if (child === 'round_robin' || child === 'weighted_round_robin' || child === 'pick_first')
      childPolicy = [{ [child]: {} }];
    else if (Array.isArray(child)) childPolicy = child;
    else {
      const reason = 'must be round_robin, weighted_round_robin, pick_first or an array of LB configs';
      throw new OptionTypeError('childPolicy', child, reason);
    }
    const extra = o.serviceConfig === undefined ? {} : o.serviceConfig;
    if (typeof extra !== 'object' || extra === null || Array.isArray(extra)) {
      throw new OptionTypeError('serviceConfig', extra, 'must be an object');
    }
    registerInstanceBreakerPolicy(grpc);
    if (typeof child === 'string' && !grpc.experimental.isLoadBalancerNameRegistered(child)) {
      const version = grpcVersionOf(grpc) ?? '(unknown version)';
      const reason = `is not in @grpc/grpc-js ${version} (weighted_round_robin came in 1.14.0)`;
      throw new OptionRangeError('childPolicy', child, reason);
    }
    this.instanceInUse = true;
    return {
      'grpc.service_config': JSON.stringify({
        ...extra,
        loadBalancingConfig: [{ [INSTANCE_POLICY_NAME]: { child_policy: childPolicy } }],
      }),
      // A DNS TXT record must not replace the policy.
      'grpc.service_config_disable_resolution': 1,
      // Subchannels of their own, so that a connection failure is counted once per suite.
      'grpc.use_local_subchannel_pool': 1,
      [INSTANCE_LEVEL_OPTION]: this.instance,
    };
  }

  /**
   * Sets the config of one service key; fields left out keep their current
   * value. Takes effect for the calls that follow; the key's statistics are
   * kept. A bad config throws a `CBConfigError` and changes nothing.
   */
  updateServiceCBConfig(key: string, cfg: CBConfigInput): void {
    this.service.configs.update(key, cfg);
  }

  /** Sets the config of service keys that have none of their own (Kitex cannot). */
  updateDefaultServiceCBConfig(cfg: CBConfigInput): void {
    this.service.configs.updateDefault(cfg);
  }

  /** Drops a key's own config: it uses the default again. */
  removeServiceCBConfig(key: string): void {
    this.service.configs.remove(key);
  }

  /** The config in force for a service key. */
  serviceCBConfig(key: string): CBConfig {
    return this.service.configs.get(key);
  }

  /** Sets the config shared by every instance (Kitex's `UpdateInstanceCBConfig`). */
  updateInstanceCBConfig(cfg: CBConfigInput): void {
    this.instance.configs.updateDefault(cfg);
  }

  /** Sets the config of one instance, over the shared one. */
  updateInstanceCBConfigFor(address: string, cfg: CBConfigInput): void {
    this.instance.configs.update(address, cfg);
  }

  /** Drops an instance's own config: it uses the shared one again. */
  removeInstanceCBConfigFor(address: string): void {
    this.instance.configs.remove(address);
  }

  /** The config in force for an instance. */
  instanceCBConfig(address = ''): CBConfig {
    return this.instance.configs.get(address);
  }

  /** The key of a call to `path` (a method path such as `/echo.v1.Echo/Say`), as this suite makes it. */
  serviceKey(path: string): string {
    return this.service.keyOf(path).key;
  }

  /**
   * The service-level panel (Kitex's `ServicePanel()`). Its `getMetricer(key)`
   * of a key with no breaker yet is an empty, frozen metricer: read it after
   * the key's first call, or hold `getBreaker(key).metricer()`.
   */
  get servicePanel(): Panel {
    return this.service.panel;
  }

  /** The instance-level panel, keyed by address. */
  get instancePanel(): Panel {
    return this.instance.panel;
  }

  /** Instance addresses listed by the channels' resolvers now. */
  instanceAddresses(): string[] {
    return this.instance.addresses();
  }

  /** Listens to state changes of both levels. Returns a function that stops listening. */
  onStateChange(listener: (e: CBStateChangeEvent) => void): () => void {
    return this.stateListeners.add(listener);
  }

  /**
   * Listens to changes of the configs in force, local or from the fleet (a
   * published config arriving is otherwise silent). Returns a function that
   * stops listening.
   */
  onConfigChange(listener: (e: CBConfigChangeEvent) => void): () => void {
    return this.configListeners.add(listener);
  }

  /** Listens to faults of the breaker machinery (each one let a call through unprotected). */
  onFault(listener: (e: CBFaultEvent) => void): () => void {
    return this.faultListeners.add(listener);
  }

  /**
   * Watches the service level's calls: rejections, and how the calls let
   * through end (what the metrics and tracing of `/prometheus` and `/otel`
   * use). Returns a function that stops watching.
   * @throws OptionTypeError naming the field when `observer` is not one.
   */
  observeCalls(observer: CallObserver): () => void {
    return this.service.observers.add(observer);
  }

  /** The last events, oldest first (Kitex's event queue). */
  recentEvents(): CBEvent[] {
    return this.ring.toArray();
  }

  /** Counters: rejections per service key, attempts, retries, drops and skips at instance level. */
  stats(): CBSuiteStats {
    return {
      service: { rejections: this.service.rejections(), faults: this.faults },
      instance: this.instance.stats(),
    };
  }

  /** Kitex's `Dump()`: non-CLOSED breakers per level, and the configs. */
  dump(): CBDump {
    const service: Record<string, CBConfig> = {};
    for (const [k, c] of this.service.configs.own()) service[k] = c;
    for (const k of this.service.panel.dumpBreakers().keys()) service[k] ??= this.service.configs.get(k);
    const overrides: Record<string, CBConfig> = {};
    for (const [k, c] of this.instance.configs.own()) overrides[k] = c;
    return {
      service: debugInfo(this.service.panel),
      instance: debugInfo(this.instance.panel),
      cb_config: {
        service,
        instance: this.instance.configs.default,
        service_default: this.service.configs.default,
        instance_overrides: overrides,
      },
    };
  }

  /**
   * Drops every breaker and listener. Calls already wired to the suite then
   * go through unprotected. Idempotent.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const u of this.unsubscribe.splice(0)) u();
    this.service.panel.close();
    this.instance.panel.close();
    this.stateListeners.clear();
    this.faultListeners.clear();
    this.configListeners.clear();
  }

  /** grpc-js 1.14.3 stringifies channel options, where the suite's instance level sits. */
  toJSON(): string {
    return '[CBSuite]';
  }

  private routing(): Routing {
    const noInstance: AttemptPlan = Object.freeze({ callId: undefined, maxAttempts: 1, idempotent: false });
    return {
      refusal: () => this.misconfigured,
      plan: (ri, unary) => {
        if (!this.instanceInUse || this.closed) return noInstance;
        return {
          callId: this.instance.beginCall(ri),
          maxAttempts: unary ? this.maxAttempts : 1,
          idempotent: unary && this.idempotent(ri) === true,
        };
      },
      endCall: (id) => this.instance.endCall(id),
      wasPicked: (id) => this.instance.call(id)?.picked ?? true,
      retried: () => this.instance.retriedAttempt(),
      missingPolicy: (ri) => this.missingPolicy(ri),
    };
  }

  private missingPolicy(ri: RPCInfo): void {
    if (this.misconfigured !== undefined || this.warned.has('policy')) return;
    this.warned.add('policy');
    const message =
      `cbsuite: a call of ${ri.path} reached a server through a channel that does not run the ` +
      `"${INSTANCE_POLICY_NAME}" policy, so grpc-js fell back to pick_first and the instance-level breaker is off. ` +
      'Usually the policy is registered in another copy of @grpc/grpc-js than the one this channel uses. Fix: pass ' +
      'your grpc module, cbs.channelOptions({ grpc }) or registerInstanceBreakerPolicy(grpc), before creating the ' +
      'client; (a channel meant to be service-level only needs a CBSuite whose channelOptions() it does not share).';
    this.fault('instance', 'policy', undefined, new Error(message));
    if (this.onMissingPolicy === 'fail') {
      const metadata = new Metadata();
      metadata.set('x-cbsuite-misconfigured', INSTANCE_POLICY_NAME);
      this.misconfigured = { code: Status.FAILED_PRECONDITION, details: message, metadata };
    }
  }

  private onTransition(level: Level, key: string, from: State, to: State, m: Metricer, info: TransitionInfo): void {
    const counts = countsOf(m);
    const fromName = stateName(from);
    const toName = stateName(to);
    const e: CBStateChangeEvent = {
      type: 'stateChange',
      level,
      key,
      from,
      to,
      fromName,
      toName,
      cause: info.cause,
      attempt: info.attempt,
      coolingMs: info.coolingMs,
      fleet: info.fleet,
      counts,
      time: Date.now(),
      detail: `${key}: ${fromName} -> ${toName}, (succ: ${counts.successes}, err: ${counts.failures}, timeout: ${counts.timeouts}, rate: ${counts.errorRate.toFixed(6)})`,
    };
    this.ring.push(e);
    for (const err of this.stateListeners.emit(e)) this.warn('listener', err);
  }

  private fault(level: Level, phase: CBFaultEvent['phase'], key: string | undefined, error: unknown): void {
    this.faults++;
    const e: CBFaultEvent = { type: 'fault', level, phase, key, error, time: Date.now() };
    this.ring.push(e);
    if (this.faultListeners.size === 0) this.warn(`${level}/${phase}`, error);
    else for (const err of this.faultListeners.emit(e)) this.warn('listener', err);
  }

  // Without listeners, each kind of fault is reported once as a process warning.
  private warn(kind: string, error: unknown): void {
    if (this.warned.has(kind)) return;
    this.warned.add(kind);
    const message = error instanceof Error ? error.message : String(error);
    process.emitWarning(`cbsuite (${kind}): ${message}`, { code: 'CBSUITE_FAULT' });
  }
}

function checkSync(sync: unknown): FleetSync {
  const s = sync as FleetSync;
  if (
    typeof s !== 'object' ||
    s === null ||
    typeof s.attach !== 'function' ||
    typeof s.onConfig !== 'function' ||
    typeof s.publishMode !== 'function'
  ) {
    throw new OptionTypeError('sync', sync, 'must be a fleet sync (for example a RedisSync)');
  }
  return s;
}

// A level's breaker options, validated here so that errors name the option
// the user wrote (`serviceBreaker.coolingTimeoutMs`); the level's panel then
// takes them as they are.
function timing(name: string, value: BreakerTimingOptions | undefined): PanelOptions {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new OptionTypeError(name, value, 'must be an object of breaker options');
  }
  for (const k of ['shouldTrip', 'shouldTripWithKey']) {
    if (k in value) {
      const got = (value as Record<string, unknown>)[k];
      throw new OptionTypeError(
        `${name}.${k}`,
        got,
        'is set by the suite from CBConfig; use serviceTripFunc / instanceTripFunc',
      );
    }
  }
  resolvePanelOptions(value, name, name);
  return value;
}

function debugInfo(panel: Panel): CBDebugInfo {
  const o = panel.options;
  const windowSec = (o.bucketTimeMs * o.bucketNums) / 1000;
  const label = (what: string) => `${what} in ${windowSec}s`;
  const out: Record<string, Record<string, string | number>> = {};
  for (const [key, b] of panel.dumpBreakers()) {
    if (b.state() === State.Closed) continue;
    const m = b.metricer();
    out[key] = {
      state: b.mode() === 'forcedOpen' ? 'FORCED_OPEN' : stateName(b.state()),
      [label('successes')]: m.successes(),
      [label('failures')]: m.failures(),
      [label('timeouts')]: m.timeouts(),
      [label('error rate')]: m.errorRate(),
    };
  }
  return Object.keys(out).length === 0 ? { msg: 'all circuit breakers are in closed state' } : out;
}

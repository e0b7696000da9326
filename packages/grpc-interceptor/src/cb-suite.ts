import type { Disposer, Mode, Panel } from '@cbsuite/core';
import type { ChannelOptions, Interceptor } from '@grpc/grpc-js';
import { attachInternals } from './adapter-internals.js';
import type { CallObserver } from './call-observer.js';
import type { CallRegistry } from './call-registry.js';
import type { CBConfig, CBConfigInput } from './cb-config.js';
import { type ChannelOptionsInput, instanceChannelOptions } from './channel-options.js';
import { type CBDump, dumpLevels } from './dump.js';
import type {
  CBConfigChangeEvent,
  CBEjectionEvent,
  CBEvent,
  CBFaultEvent,
  CBHealthProbeEvent,
  CBHedgeEvent,
  CBPanicEvent,
  CBRetryEvent,
  CBStateChangeEvent,
} from './events.js';
import type { InstanceLevel } from './instance-level.js';
import type { ShedEvent } from './load-shedder.js';
import { misconfiguredStatus, missingPolicyError } from './missing-policy.js';
import type { RetryControl } from './retry-control.js';
import type { GenServiceCBKeyFunc } from './rpc-info.js';
import type { ServiceLevel } from './service-level.js';
import { SuiteEvents } from './suite-events.js';
import { SuiteFleet } from './suite-fleet.js';
import { buildSuiteLevels } from './suite-levels.js';
import { type CBSuiteOptions, resolveSuiteOptions } from './suite-options.js';
import { type CBSuiteStats, suiteStats } from './suite-stats.js';

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
  private readonly events: SuiteEvents;
  private readonly calls: CallRegistry;
  private readonly retries: RetryControl;
  private readonly sync: SuiteFleet | undefined;
  private readonly disposers: Disposer[] = [];
  private closed = false;

  /**
   * @param genServiceKey makes the service key of a call; default {@link rpcInfo2Key} (`from/to/method`).
   * @throws OptionTypeError, OptionRangeError or CBConfigError naming the bad option by the path written
   *   (`serviceBreaker.coolingTimeoutMs`, `defaultServiceCBConfig.errRate`); `null` is refused like any wrong type.
   */
  constructor(genServiceKey?: GenServiceCBKeyFunc, options: CBSuiteOptions = {}) {
    const o = resolveSuiteOptions(genServiceKey, options);
    this.fromService = o.fromService;
    const events = new SuiteEvents(o.eventQueueSize);
    this.events = events;
    const levels = buildSuiteLevels(o, events);
    this.service = levels.service;
    this.instance = levels.instance;
    this.calls = levels.calls;
    this.retries = levels.retries;
    // Reported once; with 'fail', every later call of the suite is refused with the fix.
    const stopWatching = this.calls.onMissingPolicy((ri) => {
      stopWatching();
      const error = missingPolicyError(ri);
      events.fault('instance', 'policy', undefined, error);
      if (o.onMissingPolicy === 'fail') this.service.refusal = misconfiguredStatus(error);
    });
    this.sync = o.sync === undefined ? undefined : new SuiteFleet(o.sync, this.service, this.instance, events);
    // For adapters of other client libraries (@cbsuite/nice-grpc): adapter-internals.ts.
    attachInternals(this, { service: this.service, registry: this.calls, retries: this.retries });
  }

  /**
   * Sets a service key's config here and on every node of the fleet (nodes
   * that join later included). Validated first: a bad config throws a
   * `CBConfigError` and changes nothing. Needs the `sync` option.
   */
  async publishServiceCBConfig(key: string, cfg: CBConfigInput): Promise<void> {
    const fleet = this.fleet();
    await fleet.publishConfig('service', key, this.service.level.configs.update(key, cfg));
  }

  /** Sets the default service config here and on every node. */
  async publishDefaultServiceCBConfig(cfg: CBConfigInput): Promise<void> {
    const fleet = this.fleet();
    await fleet.publishConfig('serviceDefault', '', this.service.level.configs.updateDefault(cfg));
  }

  /** Sets the shared instance config here and on every node. */
  async publishInstanceCBConfig(cfg: CBConfigInput): Promise<void> {
    const fleet = this.fleet();
    await fleet.publishConfig('instanceDefault', '', this.instance.level.configs.updateDefault(cfg));
  }

  /** Sets one instance's config here and on every node. */
  async publishInstanceCBConfigFor(address: string, cfg: CBConfigInput): Promise<void> {
    const fleet = this.fleet();
    await fleet.publishConfig('instance', address, this.instance.level.configs.update(address, cfg));
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

  private fleet(): SuiteFleet {
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
    const options = instanceChannelOptions(input, this.instance);
    if (!this.closed) this.calls.active = true;
    return options;
  }

  /**
   * Sets the config of one service key; fields left out keep their current
   * value. Takes effect for the calls that follow; the key's statistics are
   * kept. A bad config throws a `CBConfigError` and changes nothing.
   */
  updateServiceCBConfig(key: string, cfg: CBConfigInput): void {
    this.service.level.configs.update(key, cfg);
  }

  /** Sets the config of service keys that have none of their own (Kitex cannot). */
  updateDefaultServiceCBConfig(cfg: CBConfigInput): void {
    this.service.level.configs.updateDefault(cfg);
  }

  /** Drops a key's own config: it uses the default again. */
  removeServiceCBConfig(key: string): void {
    this.service.level.configs.remove(key);
  }

  /** The config in force for a service key. */
  serviceCBConfig(key: string): CBConfig {
    return this.service.level.configs.get(key);
  }

  /** Sets the config shared by every instance (Kitex's `UpdateInstanceCBConfig`). */
  updateInstanceCBConfig(cfg: CBConfigInput): void {
    this.instance.level.configs.updateDefault(cfg);
  }

  /** Sets the config of one instance, over the shared one. */
  updateInstanceCBConfigFor(address: string, cfg: CBConfigInput): void {
    this.instance.level.configs.update(address, cfg);
  }

  /** Drops an instance's own config: it uses the shared one again. */
  removeInstanceCBConfigFor(address: string): void {
    this.instance.level.configs.remove(address);
  }

  /** The config in force for an instance. */
  instanceCBConfig(address = ''): CBConfig {
    return this.instance.level.configs.get(address);
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
    return this.service.level.panel;
  }

  /** The instance-level panel, keyed by address. */
  get instancePanel(): Panel {
    return this.instance.level.panel;
  }

  /** Instance addresses listed by the channels' resolvers now. */
  instanceAddresses(): string[] {
    return this.instance.addresses();
  }

  /** Listens to state changes of both levels. Returns a function that stops listening. */
  onStateChange(listener: (e: CBStateChangeEvent) => void): Disposer {
    return this.events.onStateChange(listener);
  }

  /**
   * Listens to changes of the configs in force, local or from the fleet (a
   * published config arriving is otherwise silent). Returns a function that
   * stops listening.
   */
  onConfigChange(listener: (e: CBConfigChangeEvent) => void): Disposer {
    return this.events.onConfigChange(listener);
  }

  /** Listens to the instance level entering and leaving panic (`panicThreshold`). */
  onPanic(listener: (e: CBPanicEvent) => void): Disposer {
    return this.events.onPanic(listener);
  }

  /** Listens to outlier ejection ejecting instances and their ejections ending (`outlierDetection`). */
  onEjection(listener: (e: CBEjectionEvent) => void): Disposer {
    return this.events.onEjection(listener);
  }

  /** Listens to health-checked probes of half-open instances ending (`healthCheck`). */
  onHealthProbe(listener: (e: CBHealthProbeEvent) => void): Disposer {
    return this.events.onHealthProbe(listener);
  }

  /** Listens to faults of the breaker machinery (each one let a call through unprotected). */
  onFault(listener: (e: CBFaultEvent) => void): Disposer {
    return this.events.onFault(listener);
  }

  /** Listens to calls shed by `serviceShedding` (one event per shed call). Returns a function that stops listening. */
  onShed(listener: (e: ShedEvent) => void): Disposer {
    const shedder = this.service.shedder;
    if (shedder === undefined) return () => {};
    const dispose = shedder.onShed(listener);
    this.disposers.push(dispose);
    return dispose;
  }

  /**
   * Listens to attempts the retry rule found safe to retry: each retry, and
   * each retry refused by the budget, a pushback, the retry stop, chain stop
   * or the deadline. Returns a function that stops listening.
   */
  onRetry(listener: (e: CBRetryEvent) => void): Disposer {
    return this.retries.onRetry(listener);
  }

  /**
   * Listens to hedges of hedged calls (the `hedging` option): each hedge
   * sent, each refused (budget, pushback, retry stop, chain stop), and each
   * call a hedge answered. Returns a function that stops listening.
   */
  onHedge(listener: (e: CBHedgeEvent) => void): Disposer {
    return this.retries.onHedge(listener);
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
    return this.events.recent();
  }

  /** Counters: rejections per service key, attempts, retries, drops and skips at instance level. */
  stats(): CBSuiteStats {
    return suiteStats(this.service, this.instance, this.retries, this.events);
  }

  /** Kitex's `Dump()`: non-CLOSED breakers per level, and the configs; with `serviceShedding`, the shedding per key. */
  dump(): CBDump {
    return dumpLevels(this.service.level, this.instance.level, this.service.shedder);
  }

  /**
   * Drops every breaker and listener. Calls already wired to the suite then
   * go through unprotected. Idempotent.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.calls.active = false;
    for (const dispose of this.disposers.splice(0)) dispose();
    this.sync?.close();
    this.service.level.panel.close();
    this.instance.level.panel.close();
    this.events.clear();
    this.retries.clear();
  }

  /** grpc-js 1.14.3 stringifies channel options, where the suite's instance level sits. */
  toJSON(): string {
    return '[CBSuite]';
  }
}

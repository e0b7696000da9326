import {
  type Breaker,
  ErrorType,
  isErrorType,
  type KeyedStateChangeHandler,
  NO_PERMIT,
  Panel,
  type PanelOptions,
  type Permit,
  show,
} from '@cbsuite/core';
import {
  InterceptingCall,
  type Interceptor,
  type InterceptorOptions,
  type NextCall,
  type StatusObject,
} from '@grpc/grpc-js';
import { CallObservers, type CallWatch } from './call-observer.js';
import type { CBConfigInput } from './cb-config.js';
import { circuitBreakStatus } from './circuit-break-error.js';
import type { GetErrorTypeFunc, Level } from './classify.js';
import { type CBTripFuncFactory, ConfigStore } from './config-store.js';
import { type AttemptPlan, type CallHost, GuardedCall } from './guarded-call.js';
import { RejectedCall } from './rejected-call.js';
import { type GenServiceCBKeyFunc, type RPCInfo, rpcInfoOf } from './rpc-info.js';

/** What a level reports to its suite. */
export interface LevelHooks {
  readonly stateChange: (level: Level, ...args: Parameters<KeyedStateChangeHandler>) => void;
  readonly fault: (
    level: Level,
    phase: 'key' | 'check' | 'record' | 'policy',
    key: string | undefined,
    error: unknown,
  ) => void;
}

/** What the service level asks its suite about the instance level, per call. */
export interface Routing extends Omit<CallHost, 'recordService' | 'latencyClock'> {
  /** A status every call fails with while the suite is misconfigured, else undefined. */
  refusal(): StatusObject | undefined;
  /** How the attempts of a new call are made. */
  plan(ri: RPCInfo, unary: boolean): AttemptPlan;
}

export interface ServiceLevelOptions {
  readonly fromService: string;
  readonly genKey: GenServiceCBKeyFunc;
  readonly getErrorType: GetErrorTypeFunc;
  readonly panelOptions: PanelOptions;
  readonly defaults: CBConfigInput | undefined;
  readonly makeTrip: CBTripFuncFactory;
}

interface PathEntry {
  readonly ri: RPCInfo;
  readonly key: string;
}

/** Method paths whose key is cached; past it the cache starts over. */
const PATH_CACHE_LIMIT = 10_000;

/**
 * The service-level breaker: a panel keyed by `genKey(rpcInfo)`, checked in
 * a client interceptor before a call starts and fed one outcome per logical
 * call from its final status.
 */
export class ServiceLevel {
  readonly panel: Panel;
  readonly configs: ConfigStore;
  readonly interceptor: Interceptor;
  /** Metrics and tracing hooks (`CBSuite.observeCalls`). */
  readonly observers = new CallObservers();
  private readonly paths = new Map<string, PathEntry>();
  // Per breaker, so an evicted or removed key's count goes with its breaker: bounded by the panel's maxKeys.
  private readonly rejectionCounts = new WeakMap<Breaker, number>();
  private readonly host: CallHost;

  constructor(
    private readonly opts: ServiceLevelOptions,
    private readonly hooks: LevelHooks,
    private readonly routing: Routing,
  ) {
    this.configs = new ConfigStore(opts.makeTrip, opts.defaults, 'defaultServiceCBConfig');
    this.panel = new Panel(
      { ...opts.panelOptions, shouldTripWithKey: (key) => this.configs.trip(key) },
      (key, from, to, m, info) => hooks.stateChange('service', key, from, to, m, info),
    );
    const o = this.panel.options;
    this.host = {
      recordService: (breaker, permit, ri, status, cancelled, latency, fromServer) =>
        this.record(breaker, permit, ri, status, cancelled, latency, fromServer),
      latencyClock: o.trackSlow ? o.now : undefined,
      endCall: (id) => routing.endCall(id),
      wasPicked: (id) => routing.wasPicked(id),
      retried: () => routing.retried(),
      missingPolicy: (ri) => routing.missingPolicy(ri),
    };
    this.interceptor = (options, nextCall) => this.intercept(options, nextCall);
  }

  /** Rejections by key, for the keys the panel holds, since each key's breaker was made. */
  rejections(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [key, b] of this.panel.dumpBreakers()) {
      const n = this.rejectionCounts.get(b);
      if (n !== undefined) out.set(key, n);
    }
    return out;
  }

  /** The RPC info and key of a call to `path` (cached per path). Throws if `genKey` fails. */
  keyOf(path: string): PathEntry {
    let entry = this.paths.get(path);
    if (entry === undefined) {
      const ri = rpcInfoOf(this.opts.fromService, path);
      const key = this.opts.genKey(ri);
      if (typeof key !== 'string') throw new TypeError(`genServiceKey must return a string, got ${show(key)}`);
      if (this.paths.size >= PATH_CACHE_LIMIT) this.paths.clear();
      entry = { ri, key };
      this.paths.set(path, entry);
    }
    return entry;
  }

  private intercept(options: InterceptorOptions, nextCall: NextCall): InterceptingCall {
    const refusal = this.routing.refusal();
    if (refusal !== undefined) return new InterceptingCall(new RejectedCall(refusal));
    let entry: PathEntry;
    try {
      entry = this.keyOf(options.method_definition.path);
    } catch (err) {
      this.hooks.fault('service', 'key', undefined, err);
      return new InterceptingCall(nextCall(options));
    }
    let breaker: Breaker;
    let permit: Permit;
    let plan: AttemptPlan;
    try {
      if (!this.configs.get(entry.key).enable) return new InterceptingCall(nextCall(options));
      breaker = this.panel.getBreaker(entry.key);
      permit = breaker.acquire();
      if (permit === NO_PERMIT) {
        this.rejectionCounts.set(breaker, (this.rejectionCounts.get(breaker) ?? 0) + 1);
        this.observers.rejected(entry.key, entry.ri);
        return new InterceptingCall(new RejectedCall(circuitBreakStatus('service', entry.key)));
      }
      const def = options.method_definition;
      plan = this.routing.plan(entry.ri, !def.requestStream && !def.responseStream);
    } catch (err) {
      this.hooks.fault('service', 'check', entry.key, err);
      return new InterceptingCall(nextCall(options));
    }
    let first: ReturnType<NextCall>;
    try {
      first = nextCall(options);
    } catch (err) {
      breaker.release(permit);
      if (plan.callId !== undefined) this.routing.endCall(plan.callId);
      throw err;
    }
    const watch = this.observers.started(entry.key, entry.ri);
    const host: CallHost = watch === undefined ? this.host : { ...this.host, recordService: this.recorder(watch) };
    return new InterceptingCall(new GuardedCall(host, options, nextCall, first, breaker, permit, entry.ri, plan));
  }

  // A watched call's recorder: records, then tells the watch.
  private recorder(watch: CallWatch): CallHost['recordService'] {
    return (b, p, ri, status, cancelled, latency, fromServer) =>
      watch.ended(status, this.record(b, p, ri, status, cancelled, latency, fromServer));
  }

  /** Records the outcome of a call and returns it (undefined when the classifier failed); never throws. */
  private record(
    breaker: Breaker,
    permit: Permit,
    ri: RPCInfo,
    status: StatusObject,
    cancelled: boolean,
    latencyMs: number | undefined,
    fromServer: boolean,
  ): ErrorType | undefined {
    try {
      const type = this.opts.getErrorType(status, {
        level: 'service',
        key: breaker.key,
        rpcInfo: ri,
        cancelledByCaller: cancelled,
        fromServer,
      });
      if (!isErrorType(type)) throw new TypeError(`the service classifier returned ${show(type)}, not an ErrorType`);
      breaker.record(type, latencyMs, permit);
      return type;
    } catch (err) {
      // The call went out: its probe keeps its detect interval, as for an ignorable outcome.
      breaker.record(ErrorType.Ignorable, undefined, permit);
      this.hooks.fault('service', 'record', breaker.key, err);
      return undefined;
    }
  }
}

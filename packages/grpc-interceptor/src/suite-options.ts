import {
  checkFunction,
  checkInteger,
  checkKeys,
  checkNumber,
  type FleetSync,
  OptionTypeError,
  type PanelOptions,
  rateTripFunc,
  resolvePanelOptions,
} from '@cbsuite/core';
import type { BreakerLevelOptions } from './breaker-level.js';
import type { CBConfigInput } from './cb-config.js';
import {
  errorTypeOnInstanceLevel,
  errorTypeOnServiceLevel,
  type GetErrorTypeFunc,
  type InstanceFailureCode,
  instanceErrorTypeWithCodes,
  wrapErrorTypeFunc,
} from './classify.js';
import type { CBTripFuncFactory } from './config-store.js';
import { type HealthCheckOptions, type ResolvedHealthCheck, resolveHealthCheck } from './health-options.js';
import { type HedgingOption, resolveHedgingOption } from './hedging-options.js';
import type { LoadSheddingOptions } from './load-shedder.js';
import {
  type OutlierDetectionOptions,
  type ResolvedOutlierDetection,
  resolveOutlierDetection,
} from './outlier-options.js';
import { type ResolvedRetryOptions, type RetryOptions, resolveRetryOptions } from './retry-options.js';
import { type GenServiceCBKeyFunc, type RPCInfo, rpcInfo2Key } from './rpc-info.js';

/** Breaker options a suite passes to the breakers of one level: timing, probes, backoff, slow calls, clock, `maxKeys`. */
export type BreakerTimingOptions = Omit<PanelOptions, 'shouldTrip' | 'shouldTripWithKey'>;

/** Options of a {@link CBSuite}. Everything defaults to Kitex's behaviour. */
export interface CBSuiteOptions extends RetryOptions {
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
   * Hedged requests for idempotent unary methods (Kitex's backup request):
   * `{ delayMs, maxAttempts }` for every such method, or a function of the
   * method answering them (undefined: not hedged), asked once per method.
   * Hedges come out of the retry budget. Default none. See docs/semantics.md,
   * "Hedged requests".
   */
  readonly hedging?: HedgingOption;
  /**
   * When a call of the suite reaches a server through a channel that does not
   * run the instance policy (grpc-js fell back to pick_first): `'fail'`
   * (default) fails the suite's calls from then on with `FAILED_PRECONDITION`
   * and the fix; `'warn'` only reports it.
   */
  readonly onMissingPolicy?: 'fail' | 'warn';
  /**
   * Envoy's panic threshold, a share of instances in [0, 1]: while fewer than
   * this share of the listed instances allow calls, the picker ignores the
   * instance breakers and spreads calls over every instance (forced-open ones
   * excepted), recording outcomes as usual, and no instance breaker trips
   * (a trip would change no pick). Default 0: off, as in Kitex, where
   * every instance tripped drops every call. `robustInstance()` sets 0.5.
   */
  readonly panicThreshold?: number;
  /**
   * Outlier ejection as gRPC defines it (gRFC A50: success-rate and
   * failure-percentage ejection), plus a latency rule: an instance worse than
   * its peers is skipped for a while, whatever its breaker says. Runs on the
   * instance breakers' clock (`instanceBreaker.now`). Default: off.
   */
  readonly outlierDetection?: OutlierDetectionOptions;
  /**
   * Health-checked probes: a half-open instance is probed with a
   * `grpc.health.v1.Health/Check` call on its connection, asking about
   * `service`, instead of with a caller's call; `SERVING` is a successful
   * probe, anything else a failed one. Needs servers that implement the
   * standard health service; an instance answering `UNIMPLEMENTED` is probed
   * with callers' calls (one `healthProbe` event says so). Default: off
   * (Kitex probes with callers' calls), and `robustInstance()` leaves it off.
   */
  readonly healthCheck?: HealthCheckOptions;
  /** Events kept for `recentEvents()`. Default 200 (Kitex's event queue). */
  readonly eventQueueSize?: number;
  /**
   * Shares both levels' breakers with the other replicas of this client, for
   * example through `new RedisSync({ redis, namespace })` of
   * `@cbsuite/redis-sync`. Service keys are shared under the scope `service`,
   * instance addresses under `instance`, and with
   * `serviceShedding.adaptiveThrottle.shareWithFleet` the adaptive
   * throttle's requests and accepts under `adaptive`; configs published with
   * the `publish*` methods reach every node.
   */
  readonly sync?: FleetSync;
  /**
   * Load shedding per service key, after the breaker: the latency throttle,
   * adaptive throttling and a concurrency limit, each off unless set. Shed
   * calls fail fast with `RESOURCE_EXHAUSTED`; see `isLoadShedError`.
   */
  readonly serviceShedding?: LoadSheddingOptions;
}

// Derived from the type, in the order errors list them: a new option cannot be forgotten here.
const OPTION_NAMES = Object.keys({
  fromService: true,
  defaultServiceCBConfig: true,
  instanceCBConfig: true,
  serviceBreaker: true,
  instanceBreaker: true,
  serviceGetErrorType: true,
  wrappedServiceGetErrorType: true,
  instanceGetErrorType: true,
  wrappedInstanceGetErrorType: true,
  instanceFailureCodes: true,
  serviceTripFunc: true,
  instanceTripFunc: true,
  maxAttempts: true,
  idempotent: true,
  retryBudget: true,
  retryBackoff: true,
  retryStopErrRate: true,
  chainStop: true,
  hedging: true,
  onMissingPolicy: true,
  panicThreshold: true,
  outlierDetection: true,
  healthCheck: true,
  eventQueueSize: true,
  sync: true,
  serviceShedding: true,
} satisfies Record<keyof CBSuiteOptions, true>);

/** A suite's options, validated, with defaults applied. */
export interface ResolvedSuiteOptions {
  readonly fromService: string;
  readonly genKey: GenServiceCBKeyFunc;
  readonly service: BreakerLevelOptions;
  readonly instance: BreakerLevelOptions;
  readonly maxAttempts: number;
  readonly idempotent: (ri: RPCInfo) => boolean;
  readonly retry: ResolvedRetryOptions;
  readonly hedging: ((ri: RPCInfo) => unknown) | undefined;
  readonly onMissingPolicy: 'fail' | 'warn';
  readonly panicThreshold: number;
  readonly outlierDetection: ResolvedOutlierDetection | undefined;
  readonly healthCheck: ResolvedHealthCheck | undefined;
  readonly eventQueueSize: number;
  readonly sync: FleetSync | undefined;
  readonly serviceShedding: LoadSheddingOptions | undefined;
}

const defaultTrip: CBTripFuncFactory = (cfg) => rateTripFunc(cfg.errRate, cfg.minSample);

/**
 * Validates a suite's constructor arguments. Errors name the option by the
 * path written (`serviceBreaker.coolingTimeoutMs`); `null` is refused like any
 * wrong type.
 */
export function resolveSuiteOptions(
  genServiceKey: GenServiceCBKeyFunc | undefined,
  options: CBSuiteOptions,
): ResolvedSuiteOptions {
  const o = checkKeys('CBSuite options', options, OPTION_NAMES) as CBSuiteOptions;
  const genKey =
    genServiceKey === undefined ? rpcInfo2Key : checkFunction<GenServiceCBKeyFunc>('genServiceKey', genServiceKey);
  const fromService = o.fromService === undefined ? '' : o.fromService;
  if (typeof fromService !== 'string') throw new OptionTypeError('fromService', fromService, 'must be a string');
  const fn = <F extends (...args: never[]) => unknown>(name: keyof CBSuiteOptions): F | undefined =>
    o[name] === undefined ? undefined : checkFunction<F>(name, o[name]);

  const customService = fn<GetErrorTypeFunc>('serviceGetErrorType');
  let serviceType: GetErrorTypeFunc = customService ?? errorTypeOnServiceLevel;
  const wrappedService = fn<GetErrorTypeFunc>('wrappedServiceGetErrorType');
  if (wrappedService) serviceType = wrapErrorTypeFunc(wrappedService, serviceType);
  const codes = o.instanceFailureCodes;
  if (codes !== undefined && !Array.isArray(codes)) {
    throw new OptionTypeError('instanceFailureCodes', codes, 'must be an array');
  }
  const customInstance = fn<GetErrorTypeFunc>('instanceGetErrorType');
  let instanceType: GetErrorTypeFunc =
    customInstance ?? (codes === undefined ? errorTypeOnInstanceLevel : instanceErrorTypeWithCodes(codes));
  const wrappedInstance = fn<GetErrorTypeFunc>('wrappedInstanceGetErrorType');
  if (wrappedInstance) instanceType = wrapErrorTypeFunc(wrappedInstance, instanceType);

  const maxAttempts = o.maxAttempts === undefined ? 3 : checkInteger('maxAttempts', o.maxAttempts, 1, 10);
  const idempotent = fn<(ri: RPCInfo) => boolean>('idempotent') ?? (() => false);
  const retry = resolveRetryOptions(o);
  const hedging = resolveHedgingOption(o.hedging);
  const onMissingPolicy = o.onMissingPolicy === undefined ? 'fail' : o.onMissingPolicy;
  if (onMissingPolicy !== 'fail' && onMissingPolicy !== 'warn') {
    throw new OptionTypeError('onMissingPolicy', onMissingPolicy, 'must be "fail" or "warn"');
  }
  const panicThreshold = o.panicThreshold === undefined ? 0 : checkNumber('panicThreshold', o.panicThreshold, 0, 1);
  const outlierDetection = resolveOutlierDetection('outlierDetection', o.outlierDetection);
  const healthCheck = resolveHealthCheck('healthCheck', o.healthCheck);
  const eventQueueSize =
    o.eventQueueSize === undefined ? 200 : checkInteger('eventQueueSize', o.eventQueueSize, 0, 100_000);
  const instanceTiming = timing('instanceBreaker', o.instanceBreaker);
  const serviceTiming = timing('serviceBreaker', o.serviceBreaker);
  const instanceTrip = fn<CBTripFuncFactory>('instanceTripFunc') ?? defaultTrip;
  const serviceTrip = fn<CBTripFuncFactory>('serviceTripFunc') ?? defaultTrip;
  const instance: BreakerLevelOptions = {
    panelOptions: instanceTiming,
    defaults: o.instanceCBConfig,
    makeTrip: instanceTrip,
    getErrorType: instanceType,
    // The built-in instance classifiers count every OK as a success.
    okIsSuccess: customInstance === undefined && wrappedInstance === undefined,
  };
  const service: BreakerLevelOptions = {
    panelOptions: serviceTiming,
    defaults: o.defaultServiceCBConfig,
    makeTrip: serviceTrip,
    getErrorType: serviceType,
    // The built-in service classifier counts every OK as a success.
    okIsSuccess: customService === undefined && wrappedService === undefined,
  };
  const sync = o.sync === undefined ? undefined : checkSync(o.sync);
  const serviceShedding = o.serviceShedding;
  return {
    fromService,
    genKey,
    service,
    instance,
    maxAttempts,
    idempotent,
    retry,
    hedging,
    onMissingPolicy,
    panicThreshold,
    outlierDetection,
    healthCheck,
    eventQueueSize,
    sync,
    serviceShedding,
  };
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

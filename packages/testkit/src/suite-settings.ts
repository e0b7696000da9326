// The settings of a client node's CBSuite as plain data, so that a parent
// process can send them to the nodes it starts; and the suite they make.
import { anyTripFunc, consecutiveTripFunc, type FleetSync, rateTripFunc } from '@cbsuite/core';
import { CBSuite, type InstanceFailureCode } from '@cbsuite/grpc-interceptor';

/** The timings of a level's breakers; unset ones keep the suite's defaults. */
export interface BreakerSettings {
  readonly coolingTimeoutMs: number;
  readonly detectTimeoutMs: number;
  readonly halfOpenSuccesses?: number;
  /** The window: 100 buckets of this many ms. */
  readonly bucketTimeMs?: number;
  /** Failed probes double the cooling, up to this. */
  readonly maxCoolingMs?: number;
}

export interface SuiteSettings {
  readonly fromService: string;
  /** The service key's config (every key's default). */
  readonly service: { readonly errRate: number; readonly minSample: number };
  readonly serviceBreaker: BreakerSettings;
  /** Instance-level breakers; without them, the client calls through the service level alone. */
  readonly instance?: {
    readonly errRate: number;
    readonly minSample: number;
    /** Trips as well after this many failed attempts or connections in a row. */
    readonly consecutiveFailures?: number;
    readonly failureCodes?: readonly InstanceFailureCode[];
    readonly breaker: BreakerSettings;
  };
  /** Lets a `Say` cut by a dropped connection be retried on another instance. */
  readonly idempotentSay?: boolean;
}

function breakerOptions(b: BreakerSettings) {
  return {
    coolingTimeoutMs: b.coolingTimeoutMs,
    detectTimeoutMs: b.detectTimeoutMs,
    ...(b.halfOpenSuccesses === undefined ? {} : { halfOpenSuccesses: b.halfOpenSuccesses }),
    ...(b.bucketTimeMs === undefined ? {} : { bucketTimeMs: b.bucketTimeMs, bucketNums: 100 }),
    ...(b.maxCoolingMs === undefined ? {} : { coolingBackoff: { maxMs: b.maxCoolingMs } }),
  };
}

/** The suite `s` describes, its breakers shared through `sync` when given. */
export function suiteOf(s: SuiteSettings, sync?: FleetSync): CBSuite {
  const i = s.instance;
  const inARow = i?.consecutiveFailures;
  return new CBSuite(undefined, {
    fromService: s.fromService,
    defaultServiceCBConfig: { errRate: s.service.errRate, minSample: s.service.minSample },
    serviceBreaker: breakerOptions(s.serviceBreaker),
    ...(i === undefined
      ? {}
      : {
          instanceCBConfig: { errRate: i.errRate, minSample: i.minSample },
          instanceBreaker: breakerOptions(i.breaker),
          ...(i.failureCodes === undefined ? {} : { instanceFailureCodes: i.failureCodes }),
        }),
    ...(inARow === undefined
      ? {}
      : {
          instanceTripFunc: (cfg) => anyTripFunc(rateTripFunc(cfg.errRate, cfg.minSample), consecutiveTripFunc(inARow)),
        }),
    ...(s.idempotentSay === true ? { idempotent: (ri) => ri.method === 'Say' } : {}),
    ...(sync === undefined ? {} : { sync }),
  });
}

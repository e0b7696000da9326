import { anyTripFunc, consecutiveTripFunc, rateTripFunc } from '@cbsuite/core';
import type { CBSuiteOptions } from './suite-options.js';

/**
 * The options `robustInstance()` sets: every instance-level option it
 * touches, so that spreading your own after it replaces its choice.
 */
export type RobustInstanceOptions = Required<
  Pick<
    CBSuiteOptions,
    | 'instanceFailureCodes'
    | 'instanceCBConfig'
    | 'instanceTripFunc'
    | 'instanceBreaker'
    | 'panicThreshold'
    | 'outlierDetection'
  >
>;

/**
 * The instance-level tuning that skips a dead, hung, refusing or slow
 * instance without reading the semantics page, as an options fragment:
 *
 * ```ts
 * new CBSuite(undefined, { ...robustInstance(), idempotent: (ri) => ri.method.startsWith('Get') });
 * ```
 *
 * - `UNAVAILABLE`, `RESOURCE_EXHAUSTED` and `DEADLINE_EXCEEDED` from a server
 *   count against its instance (a timeout for the deadline);
 * - an instance trips on 3 errors in a row, or on half its calls failing
 *   out of at least 20 in its window;
 * - the instance window is 2 s (100 buckets of 20 ms) instead of 10 s, so
 *   calls from before a fault leave it quickly;
 * - a tripped instance cools for 1 s, doubling on each failed probe up to 4 s
 *   (±20 % jitter), so a healed one is back within 5 s;
 * - panic mode at 0.5 (Envoy's default): with fewer than half the instances
 *   allowing calls, calls spread over all of them instead of piling onto the
 *   rest or being dropped, and no breaker trips until that ends;
 * - the latency rule of outlier ejection, every 500 ms: an instance whose
 *   mean latency is over 3× its peers' median (and 5 ms over it) is skipped
 *   for 1 s × its ejection count (at most 4 s), never more than 30 % of the
 *   instances at once.
 *
 * Kitex's behaviour stays the default without it. Spread your own options
 * after it to change a part (an `instanceBreaker` of your own replaces its
 * whole object: spread `robustInstance().instanceBreaker` into it to keep the rest).
 */
export function robustInstance(): RobustInstanceOptions {
  return {
    instanceFailureCodes: ['UNAVAILABLE', 'RESOURCE_EXHAUSTED', 'DEADLINE_EXCEEDED'],
    instanceCBConfig: { enable: true, errRate: 0.5, minSample: 20 },
    instanceTripFunc: (cfg) => anyTripFunc(rateTripFunc(cfg.errRate, cfg.minSample), consecutiveTripFunc(3)),
    instanceBreaker: {
      bucketTimeMs: 20,
      bucketNums: 100,
      coolingTimeoutMs: 1000,
      coolingBackoff: { multiplier: 2, maxMs: 4000, jitter: 0.2 },
    },
    panicThreshold: 0.5,
    outlierDetection: {
      intervalMs: 500,
      baseEjectionTimeMs: 1000,
      maxEjectionTimeMs: 4000,
      maxEjectionPercent: 30,
      latencyEjection: { factor: 3, minGapMs: 5, minimumHosts: 3, requestVolume: 10 },
    },
  };
}

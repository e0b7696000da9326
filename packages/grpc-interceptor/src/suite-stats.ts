import type { InstanceLevel, InstanceStats } from './instance-level.js';
import type { ShedReason } from './load-shed-error.js';
import type { RetryControl, RetryStats } from './retry-control.js';
import type { ServiceLevel } from './service-level.js';
import type { SuiteEvents } from './suite-events.js';

/** Counters of both levels. */
export interface CBSuiteStats {
  readonly service: {
    /**
     * Calls rejected per key, for the keys the service panel holds (a key it
     * evicts for `maxKeys`, or removes, takes its count with it).
     */
    readonly rejections: ReadonlyMap<string, number>;
    readonly faults: number;
    /** Calls shed per reason and key (empty maps without `serviceShedding`). */
    readonly shed: Readonly<Record<ShedReason, ReadonlyMap<string, number>>>;
  };
  readonly instance: InstanceStats;
  /**
   * Retries on another instance, and the retries the budget, pushback, retry
   * stop, chain stop or deadline refused; hedges sent, refused, and calls a hedge answered.
   */
  readonly retry: RetryStats;
}

const NONE: ReadonlyMap<string, number> = new Map();
const NO_SHEDS: Record<ShedReason, ReadonlyMap<string, number>> = Object.freeze({
  latency: NONE,
  adaptive: NONE,
  concurrency: NONE,
});

/** The counters of a suite's parts, read now. */
export function suiteStats(
  service: ServiceLevel,
  instance: InstanceLevel,
  retries: RetryControl,
  events: SuiteEvents,
): CBSuiteStats {
  return {
    service: {
      rejections: service.level.rejections(),
      faults: events.faults,
      shed: service.shedder?.stats() ?? NO_SHEDS,
    },
    instance: instance.stats(),
    retry: retries.stats(),
  };
}

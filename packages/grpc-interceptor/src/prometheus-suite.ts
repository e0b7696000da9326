import { checkKeys, OptionTypeError } from '@cbsuite/core';
import type * as PromClient from 'prom-client';
import type { CBSuite } from './cb-suite.js';
import { DEFAULT_DURATION_BUCKETS, type MetricSpec, SUITE_METRICS } from './metric-catalog.js';
import { checkBuckets, checkPrefix } from './metric-options.js';
import { loadPeer } from './missing-peer-error.js';
import { DURATION_OUTCOMES, SAMPLED_SUITE_METRICS, type Sample, TrackedSuites } from './tracked-suites.js';

/** The entry point, as errors name it. */
export const PROMETHEUS_ENTRY = '@cbsuite/grpc-interceptor/prometheus';
/** The prom-client versions supported (the optional peer dependency's range). */
export const PROM_CLIENT_RANGE = '>=15 <16';

/** prom-client, loaded on first use, or a `MissingPeerError` naming it. */
export function promClient(): typeof PromClient {
  return loadPeer<typeof PromClient>('prom-client', PROM_CLIENT_RANGE, PROMETHEUS_ENTRY);
}

/** Options of {@link CBSuiteMetrics}. */
export interface CBSuiteMetricsOptions {
  /** Where the metrics are registered. Default: prom-client's global registry. */
  readonly registry?: PromClient.Registry;
  /** Prefix of every metric name. Default `cbsuite_`. */
  readonly prefix?: string;
  /**
   * Bucket upper bounds of `cbsuite_call_duration_seconds`, in seconds,
   * increasing. Default 1 ms to 10 s (Prometheus's defaults, from 1 ms).
   */
  readonly durationBuckets?: readonly number[];
}

/**
 * Prometheus metrics of one or more suites, through prom-client (an optional
 * peer dependency). Breaker series are read from the suites when scraped, so
 * their label sets follow the breakers the suites hold: an instance address
 * the resolver drops, or a service key evicted for `maxKeys`, leaves the next
 * scrape. Call durations are observed as calls end. The README lists every
 * metric with its type and labels.
 *
 * ```ts
 * const metrics = new CBSuiteMetrics({ registry });
 * metrics.add(cbs, 'checkout-client');
 * // GET /metrics → await registry.metrics()
 * ```
 */
export class CBSuiteMetrics {
  private readonly suites: TrackedSuites;
  private readonly registry: PromClient.Registry;
  private readonly names: string[] = [];
  private readonly duration: PromClient.Histogram<string>;
  /** Service keys with duration series, per suite, so that they can be removed with their breaker. */
  private readonly timed = new Map<string, Set<string>>();

  /**
   * @throws MissingPeerError when prom-client is not installed; OptionTypeError or
   *   OptionRangeError naming a bad option; prom-client's error when a metric of
   *   the same name is registered already.
   */
  constructor(options: CBSuiteMetricsOptions = {}) {
    const o = checkKeys('CBSuiteMetrics options', options, ['registry', 'prefix', 'durationBuckets']);
    const prom = promClient();
    const p = o.prefix === undefined ? 'cbsuite_' : checkPrefix(o.prefix);
    const buckets =
      o.durationBuckets === undefined
        ? [...DEFAULT_DURATION_BUCKETS]
        : checkBuckets('durationBuckets', o.durationBuckets);
    if (o.registry !== undefined && typeof (o.registry as PromClient.Registry).registerMetric !== 'function') {
      throw new OptionTypeError('registry', o.registry, 'must be a prom-client Registry');
    }
    this.registry = (o.registry as PromClient.Registry | undefined) ?? prom.register;
    const registers = [this.registry];
    this.suites = new TrackedSuites((suite, key, outcome, seconds) => this.observe(suite, key, outcome, seconds));
    const s = this.suites;
    const M = SUITE_METRICS;

    const gauge = (spec: MetricSpec, read: () => Sample[]) => {
      this.names.push(p + spec.prom);
      new prom.Gauge({
        name: p + spec.prom,
        help: spec.help,
        labelNames: spec.labels,
        registers,
        collect() {
          this.reset();
          for (const x of read()) this.set(x.labels, x.value);
        },
      });
    };
    const counter = (spec: MetricSpec, read: () => Sample[]) => {
      this.names.push(p + spec.prom);
      new prom.Counter({
        name: p + spec.prom,
        help: spec.help,
        labelNames: spec.labels,
        registers,
        collect() {
          this.reset();
          for (const x of read()) this.inc(x.labels, x.value);
        },
      });
    };
    for (const name of SAMPLED_SUITE_METRICS) {
      const spec = M[name];
      (spec.kind === 'gauge' ? gauge : counter)(spec, () => s[name]());
    }

    const prune = () => this.prune();
    this.names.push(p + M.callDuration.prom);
    this.duration = new prom.Histogram({
      name: p + M.callDuration.prom,
      help: M.callDuration.help,
      labelNames: M.callDuration.labels,
      buckets,
      registers,
      collect: prune,
    });
  }

  /**
   * Starts exporting `cbs` under the label `suite="<name>"`.
   * @throws OptionTypeError when `cbs` is not a CBSuite or `name` not a non-empty string;
   *   OptionRangeError when a suite of that name is exported already.
   */
  add(cbs: CBSuite, name: string): void {
    this.suites.add(cbs, name);
  }

  /** Stops exporting the suite named `name`: its series leave the next scrape. */
  remove(name: string): void {
    if (!this.suites.remove(name)) return;
    for (const key of this.timed.get(name) ?? []) this.forget(name, key);
    this.timed.delete(name);
  }

  /** Stops exporting every suite and unregisters the metrics from the registry. Idempotent. */
  close(): void {
    for (const name of this.suites.names()) this.remove(name);
    for (const n of this.names.splice(0)) this.registry.removeSingleMetric(n);
  }

  private observe(suite: string, key: string, outcome: string, seconds: number): void {
    this.duration.observe({ suite, key, outcome }, Math.max(0, seconds));
    let keys = this.timed.get(suite);
    if (keys === undefined) {
      keys = new Set();
      this.timed.set(suite, keys);
    }
    if (keys.has(key)) return;
    keys.add(key);
    // Between scrapes too, keys whose breaker went do not pile up.
    if (keys.size > 2 * this.suites.serviceKeys(suite) + 64) this.prune();
  }

  // Removes the duration series of service keys whose breaker is gone.
  private prune(): void {
    for (const [suite, keys] of this.timed) {
      for (const key of keys) {
        if (this.suites.holdsServiceKey(suite, key)) continue;
        this.forget(suite, key);
        keys.delete(key);
      }
    }
  }

  private forget(suite: string, key: string): void {
    for (const outcome of DURATION_OUTCOMES) this.duration.remove({ suite, key, outcome });
  }
}

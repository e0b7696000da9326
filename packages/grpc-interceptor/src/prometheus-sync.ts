import { checkKeys, OptionTypeError } from '@cbsuite/core';
import type * as PromClient from 'prom-client';
import { SYNC_METRICS } from './metric-catalog.js';
import { checkPrefix } from './metric-options.js';
import { promClient } from './prometheus-suite.js';
import { type SyncMetric, type SyncStatsSource, TrackedSyncs } from './tracked-syncs.js';

/** Options of {@link RedisSyncMetrics}. */
export interface RedisSyncMetricsOptions {
  /** Where the metrics are registered. Default: prom-client's global registry. */
  readonly registry?: PromClient.Registry;
  /** Prefix of every metric name. Default `cbsuite_`. */
  readonly prefix?: string;
}

/**
 * Prometheus metrics of fleet syncs (`RedisSync` of `@cbsuite/redis-sync`),
 * read from `stats()` when scraped: flushes, failed flushes, refused
 * messages by reason, lag, and the rest of its counters. Every series has the
 * label `sync` (the name given to `add`).
 *
 * ```ts
 * const syncMetrics = new RedisSyncMetrics({ registry });
 * syncMetrics.add(sync, 'checkout');
 * ```
 */
export class RedisSyncMetrics {
  private readonly syncs = new TrackedSyncs();
  private readonly registry: PromClient.Registry;
  private readonly names: string[] = [];

  /**
   * @throws MissingPeerError when prom-client is not installed; OptionTypeError or
   *   OptionRangeError naming a bad option.
   */
  constructor(options: RedisSyncMetricsOptions = {}) {
    const o = checkKeys('RedisSyncMetrics options', options, ['registry', 'prefix']);
    const prom = promClient();
    const p = o.prefix === undefined ? 'cbsuite_' : checkPrefix(o.prefix);
    if (o.registry !== undefined && typeof (o.registry as PromClient.Registry).registerMetric !== 'function') {
      throw new OptionTypeError('registry', o.registry, 'must be a prom-client Registry');
    }
    this.registry = (o.registry as PromClient.Registry | undefined) ?? prom.register;
    const registers = [this.registry];
    const syncs = this.syncs;
    for (const [metric, spec] of Object.entries(SYNC_METRICS) as [SyncMetric, (typeof SYNC_METRICS)[SyncMetric]][]) {
      const name = p + spec.prom;
      this.names.push(name);
      const config = { name, help: spec.help, labelNames: spec.labels, registers };
      if (spec.kind === 'counter') {
        new prom.Counter({
          ...config,
          collect() {
            this.reset();
            for (const x of TrackedSyncs.samples(metric, syncs.read())) this.inc(x.labels, x.value);
          },
        });
      } else {
        new prom.Gauge({
          ...config,
          collect() {
            this.reset();
            for (const x of TrackedSyncs.samples(metric, syncs.read())) this.set(x.labels, x.value);
          },
        });
      }
    }
  }

  /**
   * Starts exporting `sync` under the label `sync="<name>"`.
   * @throws OptionTypeError when `sync` has no `stats()` or `name` is not a non-empty string;
   *   OptionRangeError when a sync of that name is exported already.
   */
  add(sync: SyncStatsSource, name: string): void {
    this.syncs.add(sync, name);
  }

  /** Stops exporting the sync named `name`. */
  remove(name: string): void {
    this.syncs.remove(name);
  }

  /** Stops exporting every sync and unregisters the metrics from the registry. Idempotent. */
  close(): void {
    for (const name of this.syncs.names()) this.syncs.remove(name);
    for (const n of this.names.splice(0)) this.registry.removeSingleMetric(n);
  }
}

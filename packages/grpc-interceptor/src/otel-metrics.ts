import { checkKeys, OptionRangeError, OptionTypeError } from '@cbsuite/core';
import type {
  BatchObservableCallback,
  BatchObservableResult,
  Histogram,
  Meter,
  MeterProvider,
  Observable,
} from '@opentelemetry/api';
import type { CBSuite } from './cb-suite.js';
import { DEFAULT_DURATION_BUCKETS, type MetricSpec, SUITE_METRICS, SYNC_METRICS } from './metric-catalog.js';
import { checkBuckets } from './metric-options.js';
import { attributesOf, otelApi } from './otel-api.js';
import { type Sample, TrackedSuites } from './tracked-suites.js';
import { type SyncMetric, type SyncStatsSource, TrackedSyncs } from './tracked-syncs.js';

/** The meter's name (the instrumentation scope). */
export const METER_NAME = '@cbsuite/grpc-interceptor';

/** Options of {@link CBSuiteOtelMetrics} and {@link RedisSyncOtelMetrics}. */
export interface OtelMetricsOptions {
  /** Where the meter comes from. Default: the global meter provider (`metrics.getMeterProvider()`). */
  readonly meterProvider?: MeterProvider;
  /** Prefix of every instrument name. Default `cbsuite.`. */
  readonly prefix?: string;
}

/** Options of {@link CBSuiteOtelMetrics}. */
export interface CBSuiteOtelMetricsOptions extends OtelMetricsOptions {
  /**
   * Bucket bounds advised for `cbsuite.call.duration`, in seconds, increasing
   * (a View of the SDK wins over them). Default: those of the Prometheus histogram.
   */
  readonly durationBuckets?: readonly number[];
}

interface Setup {
  readonly meter: Meter;
  readonly prefix: string;
}

function setup(what: string, options: unknown, extra: string[]): Setup & { o: Record<string, unknown> } {
  const o = checkKeys(what, options, ['meterProvider', 'prefix', ...extra]);
  const api = otelApi();
  const prefix = o.prefix === undefined ? 'cbsuite.' : o.prefix;
  if (typeof prefix !== 'string') throw new OptionTypeError('prefix', prefix, 'must be a string');
  if (!/^([a-zA-Z][a-zA-Z0-9_.-]*)?$/.test(prefix)) {
    throw new OptionRangeError('prefix', prefix, 'must be an OpenTelemetry instrument name prefix');
  }
  const provider = o.meterProvider ?? api.metrics.getMeterProvider();
  if (typeof (provider as Partial<MeterProvider> | null)?.getMeter !== 'function') {
    throw new OptionTypeError('meterProvider', provider, 'must be an OpenTelemetry MeterProvider');
  }
  return { meter: (provider as MeterProvider).getMeter(METER_NAME), prefix, o };
}

/** Observable instruments for `specs`, observed together by one batch callback. */
class ObservedSpecs<K extends string> {
  private readonly instruments = new Map<K, Observable>();
  private readonly callback: BatchObservableCallback;

  constructor(
    private readonly meter: Meter,
    prefix: string,
    specs: Record<K, MetricSpec>,
    read: () => (key: K) => Sample[],
  ) {
    for (const [key, spec] of Object.entries(specs) as [K, MetricSpec][]) {
      if (spec.kind === 'histogram') continue;
      const options = { description: spec.help, unit: spec.unit };
      const name = prefix + spec.otel;
      this.instruments.set(
        key,
        spec.kind === 'counter'
          ? meter.createObservableCounter(name, options)
          : meter.createObservableGauge(name, options),
      );
    }
    this.callback = (result: BatchObservableResult) => {
      const samples = read();
      for (const [key, instrument] of this.instruments) {
        for (const s of samples(key)) {
          // No point for a value OTel exporters cannot all carry (a sync's lag before its first flush).
          if (Number.isFinite(s.value)) result.observe(instrument, s.value, attributesOf(s.labels));
        }
      }
    };
    meter.addBatchObservableCallback(this.callback, [...this.instruments.values()]);
  }

  close(): void {
    this.meter.removeBatchObservableCallback(this.callback, [...this.instruments.values()]);
  }
}

type SuiteMetric = keyof typeof SUITE_METRICS;

/**
 * The Prometheus metrics of `CBSuiteMetrics`, as OpenTelemetry instruments
 * (through `@opentelemetry/api`, an optional peer dependency): the same
 * values under OTel names (`cbsuite.calls`, `cbsuite.call.duration` in `s`,
 * ...; the README has the table) with the labels as `cbsuite.*` attributes.
 * Breaker series are observed at each collection, so they follow the
 * breakers the suites hold; call durations are recorded as calls end.
 *
 * ```ts
 * const otelMetrics = new CBSuiteOtelMetrics({ meterProvider });
 * otelMetrics.add(cbs, 'checkout-client');
 * ```
 */
export class CBSuiteOtelMetrics {
  private readonly suites: TrackedSuites;
  private readonly observed: ObservedSpecs<SuiteMetric>;
  private readonly duration: Histogram;

  /**
   * @throws MissingPeerError when `@opentelemetry/api` is not installed;
   *   OptionTypeError or OptionRangeError naming a bad option.
   */
  constructor(options: CBSuiteOtelMetricsOptions = {}) {
    const { meter, prefix, o } = setup('CBSuiteOtelMetrics options', options, ['durationBuckets']);
    const buckets =
      o.durationBuckets === undefined
        ? [...DEFAULT_DURATION_BUCKETS]
        : checkBuckets('durationBuckets', o.durationBuckets);
    const spec = SUITE_METRICS.callDuration;
    this.duration = meter.createHistogram(prefix + spec.otel, {
      description: spec.help,
      unit: spec.unit,
      advice: { explicitBucketBoundaries: buckets },
    });
    this.suites = new TrackedSuites((suite, key, outcome, seconds) =>
      this.duration.record(Math.max(0, seconds), attributesOf({ suite, key, outcome })),
    );
    const s = this.suites;
    this.observed = new ObservedSpecs(
      meter,
      prefix,
      SUITE_METRICS,
      () => (key) => (key === 'callDuration' ? [] : s[key]()),
    );
  }

  /**
   * Starts exporting `cbs` under the attribute `cbsuite.suite`.
   * @throws OptionTypeError when `cbs` is not a CBSuite or `name` not a non-empty string;
   *   OptionRangeError when a suite of that name is exported already.
   */
  add(cbs: CBSuite, name: string): void {
    this.suites.add(cbs, name);
  }

  /**
   * Stops exporting the suite named `name`: its observed series leave the
   * next collection (the SDK keeps the histogram's; see the README).
   */
  remove(name: string): void {
    this.suites.remove(name);
  }

  /** Stops exporting every suite and observing the instruments. Idempotent. */
  close(): void {
    this.suites.clear();
    this.observed.close();
  }
}

/**
 * The Prometheus metrics of `RedisSyncMetrics` as OpenTelemetry instruments
 * (`cbsuite.sync.flushes`, `cbsuite.sync.lag` in `s`, ...), with the
 * attribute `cbsuite.sync`; read from `stats()` at each collection.
 */
export class RedisSyncOtelMetrics {
  private readonly syncs = new TrackedSyncs();
  private readonly observed: ObservedSpecs<SyncMetric>;

  /**
   * @throws MissingPeerError when `@opentelemetry/api` is not installed;
   *   OptionTypeError or OptionRangeError naming a bad option.
   */
  constructor(options: OtelMetricsOptions = {}) {
    const { meter, prefix } = setup('RedisSyncOtelMetrics options', options, []);
    this.observed = new ObservedSpecs(meter, prefix, SYNC_METRICS, () => {
      const stats = this.syncs.read();
      return (key) => TrackedSyncs.samples(key, stats);
    });
  }

  /**
   * Starts exporting `sync` under the attribute `cbsuite.sync`.
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

  /** Stops exporting every sync and observing the instruments. Idempotent. */
  close(): void {
    for (const name of this.syncs.names()) this.syncs.remove(name);
    this.observed.close();
  }
}

import { isOptionError } from '@cbsuite/core';
import { EchoClient, grpc, say, startEchoServer } from '@cbsuite/testkit/echo.js';
import { ManualClock } from '@cbsuite/testkit/manual-clock.js';
import {
  AggregationTemporality,
  DataPointType,
  type HistogramMetricData,
  InMemoryMetricExporter,
  MeterProvider,
  type MetricData,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { afterEach, describe, expect, it } from 'vitest';
import { CBSuite } from './cb-suite.js';
import { SUITE_METRICS, SYNC_METRICS } from './metric-catalog.js';
import { CBSuiteOtelMetrics, RedisSyncOtelMetrics, type SyncStats } from './otel.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A meter provider whose metrics the test collects by hand (the export interval never passes). */
function meterProvider(temporality = AggregationTemporality.CUMULATIVE) {
  const exporter = new InMemoryMetricExporter(temporality);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 2 ** 30 });
  const provider = new MeterProvider({ readers: [reader] });
  cleanups.push(() => provider.shutdown());
  /** The metrics of one collection, by name. */
  const collect = async (): Promise<Map<string, MetricData>> => {
    exporter.reset();
    await reader.forceFlush();
    const out = new Map<string, MetricData>();
    for (const rm of exporter.getMetrics()) {
      for (const sm of rm.scopeMetrics) for (const m of sm.metrics) out.set(m.descriptor.name, m);
    }
    return out;
  };
  return { provider, collect };
}

/** The value of the data point of `name` whose attributes include `attrs`, or undefined. */
function point(metrics: Map<string, MetricData>, name: string, attrs: Record<string, unknown>): unknown {
  const m = metrics.get(name);
  const p = m?.dataPoints.find((d) => Object.entries(attrs).every(([k, v]) => d.attributes[k] === v));
  return p?.value;
}

const KEY = 'shop/echo.v1.Echo/Say';
const SVC = { 'cbsuite.suite': 'checkout', 'cbsuite.level': 'service', 'cbsuite.key': KEY };

async function setup(temporality = AggregationTemporality.CUMULATIVE) {
  const clock = new ManualClock();
  const server = await startEchoServer(() => {
    clock.advance(30);
    return { code: grpc.status.UNAVAILABLE };
  });
  const cbs = new CBSuite(undefined, {
    fromService: 'shop',
    defaultServiceCBConfig: { minSample: 2 },
    serviceBreaker: { now: clock.now, slowCallDurationMs: 20 },
  });
  const client = new EchoClient(server.address, grpc.credentials.createInsecure(), {
    interceptors: [cbs.interceptor()],
  });
  cleanups.push(
    () => server.close(),
    () => client.close(),
    () => cbs.close(),
  );
  const { provider, collect } = meterProvider(temporality);
  const metrics = new CBSuiteOtelMetrics({ meterProvider: provider });
  metrics.add(cbs, 'checkout');
  cleanups.push(() => metrics.close());
  return { cbs, client, collect, metrics };
}

describe('CBSuiteOtelMetrics', () => {
  it('mirrors every Prometheus metric under its OTel name, unit and type', async () => {
    const { client, collect } = await setup();
    for (let i = 0; i < 3; i++) await say(client, 'x');
    const metrics = await collect();
    for (const spec of Object.values(SUITE_METRICS)) {
      const m = metrics.get(`cbsuite.${spec.otel}`);
      // No pick is skipped and no instance health-checked here (no instance level in use), nothing is shed
      // (no serviceShedding), and the SDK exports no metric without points.
      if (['instance_skips_total', 'instance_health_probes_total', 'service_shed_total'].includes(spec.prom)) continue;
      expect(m, spec.otel).toBeDefined();
      expect(m?.descriptor.unit).toBe(spec.unit);
      expect(m?.descriptor.description).toBe(spec.help);
      const type = { counter: DataPointType.SUM, gauge: DataPointType.GAUGE, histogram: DataPointType.HISTOGRAM };
      expect(m?.dataPointType, spec.otel).toBe(type[spec.kind]);
    }
  });

  it('reports the same values as the Prometheus metrics, with cbsuite.* attributes', async () => {
    const { client, collect } = await setup();
    for (let i = 0; i < 4; i++) await say(client, 'x');
    const m = await collect();
    expect(point(m, 'cbsuite.breaker.state', { ...SVC, 'cbsuite.state': 'open' })).toBe(1);
    expect(point(m, 'cbsuite.breaker.state', { ...SVC, 'cbsuite.state': 'closed' })).toBe(0);
    expect(point(m, 'cbsuite.calls', { ...SVC, 'cbsuite.outcome': 'failure' })).toBe(2);
    expect(point(m, 'cbsuite.window.slow_call_rate', SVC)).toBe(1);
    expect(point(m, 'cbsuite.service.rejections', { 'cbsuite.suite': 'checkout', 'cbsuite.key': KEY })).toBe(2);
    expect(
      point(m, 'cbsuite.transitions', {
        ...SVC,
        'cbsuite.from': 'closed',
        'cbsuite.to': 'open',
        'cbsuite.cause': 'trip',
      }),
    ).toBe(1);
    expect(point(m, 'cbsuite.instance.drops', { 'cbsuite.suite': 'checkout' })).toBe(0);
    const duration = m.get('cbsuite.call.duration') as HistogramMetricData;
    expect(duration.descriptor.unit).toBe('s');
    const failures = duration.dataPoints.find((d) => d.attributes['cbsuite.outcome'] === 'failure');
    expect(failures?.attributes).toEqual({
      'cbsuite.suite': 'checkout',
      'cbsuite.key': KEY,
      'cbsuite.outcome': 'failure',
    });
    expect(failures?.value.count).toBe(2);
    expect(failures?.value.sum).toBeCloseTo(0.06, 9);
    expect(failures?.value.buckets.boundaries).toEqual([
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
    ]);
    // 0.03 s falls in (0.025, 0.05].
    expect(failures?.value.buckets.counts[5]).toBe(2);
  });

  // Checked with delta temporality: under cumulative temporality the JS SDK (2.x) goes on exporting the last
  // value of an attribute set its callback no longer observes (the spec says it should not).
  it("stops observing a breaker's series once the breaker goes, and a suite's once it is removed", async () => {
    const { cbs, client, collect, metrics } = await setup(AggregationTemporality.DELTA);
    await say(client, 'x');
    expect(point(await collect(), 'cbsuite.calls', { ...SVC, 'cbsuite.outcome': 'failure' })).toBe(1);
    cbs.servicePanel.removeBreaker(KEY);
    const after = await collect();
    expect(point(after, 'cbsuite.calls', { ...SVC, 'cbsuite.outcome': 'failure' })).toBeUndefined();
    expect(point(after, 'cbsuite.breakers', { 'cbsuite.suite': 'checkout', 'cbsuite.level': 'service' })).toBe(0);
    metrics.remove('checkout');
    expect(point(await collect(), 'cbsuite.breakers', { 'cbsuite.suite': 'checkout' })).toBeUndefined();
  });

  it('refuses bad options with typed errors naming them', () => {
    const { provider } = meterProvider();
    const bad: [() => unknown, string][] = [
      [() => new CBSuiteOtelMetrics({ meterProvider: {} as never }), 'meterProvider'],
      [() => new CBSuiteOtelMetrics({ meterProvider: provider, prefix: 'a b' }), 'prefix'],
      [() => new CBSuiteOtelMetrics({ meterProvider: provider, prefix: 1 as never }), 'prefix'],
      [() => new CBSuiteOtelMetrics({ meterProvider: provider, durationBuckets: [2, 1] }), 'durationBuckets[1]'],
      [() => new CBSuiteOtelMetrics({ meterProvider: provider, nope: 1 } as never), 'nope'],
      [() => new RedisSyncOtelMetrics({ meterProvider: provider, durationBuckets: [1] } as never), 'durationBuckets'],
      [() => new CBSuiteOtelMetrics({ meterProvider: provider }).add({} as CBSuite, 'x'), 'cbs'],
      [() => new RedisSyncOtelMetrics({ meterProvider: provider }).add({} as never, 'x'), 'sync'],
    ];
    for (const [make, option] of bad) {
      let caught: unknown;
      try {
        make();
      } catch (err) {
        caught = err;
      }
      expect(isOptionError(caught), option).toBe(true);
      expect((caught as { option: string }).option).toBe(option);
    }
  });
});

describe('RedisSyncOtelMetrics', () => {
  it("reports a sync's counters under cbsuite.sync.*, and no lag point before the first flush", async () => {
    const { provider, collect } = meterProvider();
    let stats: SyncStats = {
      connected: false,
      flushes: 0,
      failedFlushes: 2,
      duplicates: 0,
      commands: 0,
      keys: 1,
      leases: 0,
      refused: { garbage: 3, stale: 0 },
      refusedConfigs: 0,
      droppedStale: 0,
      appliedStates: 0,
      repaired: 0,
      clamped: 0,
      pendingBatches: 2,
      lagMs: Number.POSITIVE_INFINITY,
    };
    const metrics = new RedisSyncOtelMetrics({ meterProvider: provider });
    metrics.add({ stats: () => stats }, 'fleet');
    const S = { 'cbsuite.sync': 'fleet' };
    let m = await collect();
    expect(point(m, 'cbsuite.sync.connected', S)).toBe(0);
    expect(point(m, 'cbsuite.sync.failed_flushes', S)).toBe(2);
    expect(point(m, 'cbsuite.sync.refused_messages', { ...S, 'cbsuite.reason': 'garbage' })).toBe(3);
    expect(point(m, 'cbsuite.sync.lag', S)).toBeUndefined();
    stats = { ...stats, connected: true, flushes: 5, lagMs: 150 };
    m = await collect();
    expect(point(m, 'cbsuite.sync.flushes', S)).toBe(5);
    expect(point(m, 'cbsuite.sync.lag', S)).toBe(0.15);
    expect(m.get('cbsuite.sync.lag')?.descriptor.unit).toBe('s');
    expect([...m.keys()].filter((n) => n.startsWith('cbsuite.sync.')).sort()).toEqual(
      Object.values(SYNC_METRICS)
        .map((s) => `cbsuite.${s.otel}`)
        .sort(),
    );
    metrics.close();
  });
});

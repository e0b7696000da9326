import { isOptionError } from '@cbsuite/core';
import { collect, count, EchoClient, grpc, say, startEchoServer } from '@cbsuite/testkit/echo.js';
import { ManualClock } from '@cbsuite/testkit/manual-clock.js';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { CBSuite } from './cb-suite.js';
import { CBSuiteMetrics } from './prometheus.js';
import type { CBSuiteOptions } from './suite-options.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The value of one series in the registry's text exposition, or undefined. */
async function value(registry: Registry, series: string): Promise<number | undefined> {
  const text = await registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** The series of `metric` in the exposition, as `name{labels} value` lines. */
async function series(registry: Registry, metric: string): Promise<string[]> {
  const text = await registry.metrics();
  return text.split('\n').filter((l) => l.startsWith(`${metric}{`) || l.startsWith(`${metric} `));
}

/** A server whose every call takes `ms` on the suite's clock, failing with `code` when set. */
async function setup(options: CBSuiteOptions, answer: { ms: number; code?: grpc.status }) {
  const clock = new ManualClock();
  const server = await startEchoServer(() => {
    clock.advance(answer.ms);
    return answer.code === undefined ? undefined : { code: answer.code };
  });
  const cbs = new CBSuite(undefined, {
    fromService: 'shop',
    ...options,
    serviceBreaker: { now: clock.now, ...options.serviceBreaker },
  });
  const client = new EchoClient(server.address, grpc.credentials.createInsecure(), {
    interceptors: [cbs.interceptor()],
  });
  cleanups.push(
    () => server.close(),
    () => client.close(),
    () => cbs.close(),
  );
  const registry = new Registry();
  const metrics = new CBSuiteMetrics({ registry });
  metrics.add(cbs, 'checkout');
  return { clock, server, cbs, client, registry, metrics };
}

const KEY = 'shop/echo.v1.Echo/Say';
const S = `suite="checkout",level="service",key="${KEY}"`;

describe('CBSuiteMetrics: service level', () => {
  it('exports state, outcomes, window, rejections and transitions with their cause', async () => {
    const { clock, client, registry } = await setup(
      { defaultServiceCBConfig: { minSample: 3 } },
      { ms: 0, code: grpc.status.UNAVAILABLE },
    );
    for (let i = 0; i < 5; i++) await say(client, 'x');

    expect(await value(registry, `cbsuite_breaker_state{${S},state="open"}`)).toBe(1);
    expect(await value(registry, `cbsuite_breaker_state{${S},state="closed"}`)).toBe(0);
    expect(await value(registry, `cbsuite_breaker_state{${S},state="forced_open"}`)).toBe(0);
    expect(await value(registry, `cbsuite_calls_total{${S},outcome="failure"}`)).toBe(3);
    expect(await value(registry, `cbsuite_calls_total{${S},outcome="success"}`)).toBe(0);
    expect(await value(registry, `cbsuite_window_calls{${S},outcome="failure"}`)).toBe(3);
    expect(await value(registry, `cbsuite_window_error_rate{${S}}`)).toBe(1);
    expect(await value(registry, `cbsuite_service_rejections_total{suite="checkout",key="${KEY}"}`)).toBe(2);
    expect(await value(registry, `cbsuite_transitions_total{${S},from="closed",to="open",cause="trip"}`)).toBe(1);
    expect(await value(registry, 'cbsuite_breakers{suite="checkout",level="service"}')).toBe(1);
    expect(await value(registry, 'cbsuite_breakers{suite="checkout",level="instance"}')).toBe(0);
    // Rejections are not instance skips, and no level mixes them any more.
    expect(await series(registry, 'cbsuite_instance_skips_total')).toEqual([]);
    expect(await series(registry, 'cbsuite_rejections_total')).toEqual([]);

    // The cumulative counter keeps counting when the window empties; the window gauge does not.
    clock.advance(60_000);
    expect(await value(registry, `cbsuite_window_calls{${S},outcome="failure"}`)).toBe(0);
    expect(await value(registry, `cbsuite_calls_total{${S},outcome="failure"}`)).toBe(3);
  });

  it('shows forced modes as states of their own', async () => {
    const { cbs, client, registry } = await setup({}, { ms: 0 });
    await say(client, 'x');
    const state = async () => {
      const on = (await series(registry, 'cbsuite_breaker_state')).filter((l) => l.endsWith(' 1'));
      return on.map((l) => /state="([a-z_]+)"/.exec(l)?.[1]);
    };
    expect(await state()).toEqual(['closed']);
    for (const [mode, label] of [
      ['forcedOpen', 'forced_open'],
      ['disabled', 'disabled'],
      ['metricsOnly', 'metrics_only'],
      ['normal', 'closed'],
    ] as const) {
      cbs.servicePanel.setMode(KEY, mode);
      expect(await state()).toEqual([label]);
    }
    // Six states per breaker, exactly one of them 1.
    expect(await series(registry, 'cbsuite_breaker_state')).toHaveLength(6);
    cbs.servicePanel.setMode(KEY, 'forcedOpen');
    await say(client, 'x');
    expect(await value(registry, `cbsuite_transitions_total{${S},from="closed",to="open",cause="mode"}`)).toBe(2);
    expect(await value(registry, `cbsuite_service_rejections_total{suite="checkout",key="${KEY}"}`)).toBe(1);
  });

  it('times the calls let through per key and outcome, in seconds, on the suite clock', async () => {
    const { server, client, registry } = await setup({}, { ms: 30 });
    await say(client, 'a');
    await say(client, 'b');
    server.setBehavior(() => ({ code: grpc.status.DEADLINE_EXCEEDED }));
    await say(client, 'c');
    const L = `suite="checkout",key="${KEY}"`;
    expect(await value(registry, `cbsuite_call_duration_seconds_bucket{le="0.025",${L},outcome="success"}`)).toBe(0);
    expect(await value(registry, `cbsuite_call_duration_seconds_bucket{le="0.05",${L},outcome="success"}`)).toBe(2);
    expect(await value(registry, `cbsuite_call_duration_seconds_bucket{le="+Inf",${L},outcome="success"}`)).toBe(2);
    expect(await value(registry, `cbsuite_call_duration_seconds_sum{${L},outcome="success"}`)).toBeCloseTo(0.06, 9);
    expect(await value(registry, `cbsuite_call_duration_seconds_count{${L},outcome="success"}`)).toBe(2);
    expect(await value(registry, `cbsuite_call_duration_seconds_count{${L},outcome="timeout"}`)).toBe(1);
    // A call the server answered with DEADLINE_EXCEEDED took no time on the clock.
    expect(await value(registry, `cbsuite_call_duration_seconds_sum{${L},outcome="timeout"}`)).toBe(0);
  });

  it('counts cancelled calls as ignorable in the histogram and not in the outcome counters', async () => {
    const { client, registry } = await setup({}, { ms: 5 });
    const ctl = new AbortController();
    await new Promise<void>((resolve) => {
      const call = client.Say({ text: 'x' }, () => resolve());
      ctl.signal.addEventListener('abort', () => call.cancel());
      ctl.abort();
    });
    const L = `suite="checkout",key="${KEY}"`;
    expect(await value(registry, `cbsuite_call_duration_seconds_count{${L},outcome="ignorable"}`)).toBe(1);
    expect(await value(registry, `cbsuite_calls_total{${S},outcome="success"}`)).toBe(0);
  });

  it('exports the slow-call rate of levels that track slow calls, and no slow series otherwise', async () => {
    const slow = await setup({ serviceBreaker: { slowCallDurationMs: 20 } }, { ms: 30 });
    await say(slow.client, 'x');
    slow.server.setBehavior(() => undefined);
    await say(slow.client, 'y');
    expect(await value(slow.registry, `cbsuite_window_slow_calls{${S}}`)).toBe(1);
    expect(await value(slow.registry, `cbsuite_window_slow_call_rate{${S}}`)).toBe(0.5);

    const plain = await setup({}, { ms: 30 });
    await say(plain.client, 'x');
    expect(await series(plain.registry, 'cbsuite_window_slow_call_rate')).toEqual([]);
  });

  it('removes the series of a key whose breaker goes, durations included', async () => {
    const { cbs, client, registry } = await setup({ defaultServiceCBConfig: { minSample: 1 } }, { ms: 1 });
    await say(client, 'x');
    cbs.servicePanel.setMode(KEY, 'forcedOpen');
    await say(client, 'x');
    cbs.servicePanel.setMode(KEY, 'normal');
    expect((await registry.metrics()).includes(KEY)).toBe(true);
    cbs.servicePanel.removeBreaker(KEY);
    expect((await registry.metrics()).includes(KEY)).toBe(false);
  });

  it('bounds duration series by the keys the panel holds (maxKeys evicts the rest)', async () => {
    const { client, registry, cbs } = await setup({ serviceBreaker: { maxKeys: 2 } }, { ms: 1 });
    await say(client, 'x');
    await count(client, 'x', 1);
    expect(await series(registry, 'cbsuite_call_duration_seconds_count')).toHaveLength(2);
    await collect(client, ['x']);
    // Say, the least recently used, was evicted: its breaker and its series are gone.
    expect([...cbs.servicePanel.dumpBreakers().keys()]).toEqual([
      'shop/echo.v1.Echo/Count',
      'shop/echo.v1.Echo/Collect',
    ]);
    const lines = await series(registry, 'cbsuite_call_duration_seconds_count');
    expect(lines.map((l) => /key="([^"]+)"/.exec(l)?.[1])).toEqual([
      'shop/echo.v1.Echo/Count',
      'shop/echo.v1.Echo/Collect',
    ]);
    expect(await value(registry, 'cbsuite_breaker_evictions_total{suite="checkout",level="service"}')).toBe(1);
  });
});

describe('CBSuiteMetrics: bad input', () => {
  it('refuses bad options, suites and names with typed errors naming them', () => {
    const registry = new Registry();
    const bad: [() => unknown, string, unknown][] = [
      [() => new CBSuiteMetrics({ registry, prefix: 'bad prefix' }), 'prefix', 'bad prefix'],
      [() => new CBSuiteMetrics({ registry, prefix: 7 as unknown as string }), 'prefix', 7],
      [() => new CBSuiteMetrics({ registry, durationBuckets: [] }), 'durationBuckets', []],
      [() => new CBSuiteMetrics({ registry, durationBuckets: [0.1, 0.1] }), 'durationBuckets[1]', 0.1],
      [() => new CBSuiteMetrics({ registry, durationBuckets: [-1] }), 'durationBuckets[0]', -1],
      [() => new CBSuiteMetrics({ registry, durationBuckets: [Number.NaN] }), 'durationBuckets[0]', Number.NaN],
      [
        () => new CBSuiteMetrics({ registry, durationBuckets: ['1'] as unknown as number[] }),
        'durationBuckets[0]',
        '1',
      ],
      [() => new CBSuiteMetrics({ registry: {} as Registry }), 'registry', {}],
      [() => new CBSuiteMetrics({ registry, bogus: 1 } as never), 'bogus', 1],
    ];
    for (const [make, option, got] of bad) {
      let caught: unknown;
      try {
        make();
      } catch (err) {
        caught = err;
      }
      expect(isOptionError(caught), option).toBe(true);
      expect((caught as { option: string }).option).toBe(option);
      expect((caught as { value: unknown }).value).toEqual(got);
    }
    // Nothing was registered by the refused constructors.
    expect(registry.getMetricsAsArray()).toEqual([]);

    const metrics = new CBSuiteMetrics({ registry });
    metrics.add(new CBSuite(), 'a');
    expect(() => metrics.add(new CBSuite(), 'a')).toThrow(expect.objectContaining({ option: 'name', value: 'a' }));
    expect(() => metrics.add(new CBSuite(), '')).toThrow(expect.objectContaining({ option: 'name', value: '' }));
    expect(() => metrics.add({} as CBSuite, 'b')).toThrow(expect.objectContaining({ option: 'cbs' }));
  });

  it('exports several suites into one registry under a prefix, and unregisters on close', async () => {
    const registry = new Registry();
    const metrics = new CBSuiteMetrics({ registry, prefix: 'shop_cb_' });
    const a = new CBSuite();
    a.servicePanel.fail('k');
    metrics.add(a, 'a');
    metrics.add(new CBSuite(), 'b');
    expect(await value(registry, 'shop_cb_breakers{suite="a",level="service"}')).toBe(1);
    expect(await value(registry, 'shop_cb_breakers{suite="b",level="service"}')).toBe(0);
    metrics.remove('a');
    expect(await value(registry, 'shop_cb_breakers{suite="a",level="service"}')).toBeUndefined();
    metrics.close();
    expect(registry.getMetricsAsArray()).toEqual([]);
    // A second exporter can register the same names once the first is closed.
    expect(() => new CBSuiteMetrics({ registry, prefix: 'shop_cb_' })).not.toThrow();
  });
});

import { EchoClient, grpc, say, startEchoServer } from '@cbsuite/testkit/echo.js';
import { ManualClock } from '@cbsuite/testkit/manual-clock.js';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { CBSuite } from './cb-suite.js';
import { CBSuiteMetrics } from './prometheus.js';

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

describe('CBSuiteMetrics', () => {
  it('exports state, outcome counts, windows, rejections and transitions per level and key', async () => {
    const server = await startEchoServer(() => ({ code: grpc.status.UNAVAILABLE }));
    const clock = new ManualClock();
    const cbs = new CBSuite(undefined, {
      fromService: 'shop',
      defaultServiceCBConfig: { minSample: 3 },
      serviceBreaker: { now: clock.now },
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
    for (let i = 0; i < 5; i++) await say(client, 'x');
    cbs.instancePanel.fail('10.0.0.1:80');

    const s = 'suite="checkout",level="service",key="shop/echo.v1.Echo/Say"';
    expect(await value(registry, `cbsuite_breaker_state{${s},state="open"}`)).toBe(1);
    expect(await value(registry, `cbsuite_breaker_state{${s},state="closed"}`)).toBe(0);
    expect(await value(registry, `cbsuite_calls_total{${s},outcome="failure"}`)).toBe(3);
    expect(await value(registry, `cbsuite_window_calls{${s},outcome="failure"}`)).toBe(3);
    expect(await value(registry, `cbsuite_window_error_rate{${s}}`)).toBe(1);
    expect(await value(registry, `cbsuite_rejections_total{${s}}`)).toBe(2);
    expect(await value(registry, `cbsuite_transitions_total{${s},from="closed",to="open"}`)).toBe(1);
    const i = 'suite="checkout",level="instance",key="10.0.0.1:80"';
    expect(await value(registry, `cbsuite_calls_total{${i},outcome="failure"}`)).toBe(1);
    expect(await value(registry, 'cbsuite_instance_drops_total{suite="checkout"}')).toBe(0);

    // The cumulative counter keeps counting when the window empties; the window gauge does not.
    clock.advance(60_000);
    expect(await value(registry, `cbsuite_window_calls{${s},outcome="failure"}`)).toBe(0);
    expect(await value(registry, `cbsuite_calls_total{${s},outcome="failure"}`)).toBe(3);

    metrics.remove('checkout');
    expect(await value(registry, `cbsuite_breaker_state{${s},state="open"}`)).toBeUndefined();
  });

  it('exports several suites into one registry, and refuses a name twice', () => {
    const registry = new Registry();
    const metrics = new CBSuiteMetrics({ registry, prefix: 'shop_cb_' });
    metrics.add(new CBSuite(), 'a');
    metrics.add(new CBSuite(), 'b');
    expect(() => metrics.add(new CBSuite(), 'a')).toThrow(/already exported/);
    expect(() => new CBSuiteMetrics({ registry, prefix: 'bad prefix' })).toThrow(/prefix/);
    expect(registry.getSingleMetric('shop_cb_breaker_state')).toBeDefined();
  });
});

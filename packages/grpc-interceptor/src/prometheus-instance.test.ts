import { EchoClient, type EchoServer, grpc, say, startEchoServer } from '@cbsuite/testkit/echo.js';
import { setTestAddresses } from '@cbsuite/testkit/test-resolver.js';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { CBSuite } from './cb-suite.js';
import { circuitBreakLevel } from './circuit-break-error.js';
import { CBSuiteMetrics } from './prometheus.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function value(registry: Registry, series: string): Promise<number | undefined> {
  const text = await registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** Calls until every server has answered once. */
async function warmUp(client: EchoClient, servers: EchoServer[]): Promise<void> {
  for (let i = 0; i < 200 && servers.some((s) => s.total() === 0); i++) await say(client, 'warm-up');
  expect(servers.every((s) => s.total() > 0)).toBe(true);
}

describe('CBSuiteMetrics: instance level', () => {
  it('counts skips per address and drops per suite apart from service rejections, and follows address removal', async () => {
    const servers = await Promise.all([startEchoServer(), startEchoServer(), startEchoServer(), startEchoServer()]);
    const [a, b, c, d] = servers as [EchoServer, EchoServer, EchoServer, EchoServer];
    const name = `prom-${a.port}`;
    setTestAddresses(name, [a.port, b.port, c.port]);
    const cbs = new CBSuite(undefined, {
      defaultServiceCBConfig: { minSample: 100_000 },
      instanceCBConfig: { minSample: 100_000 },
    });
    const client = new EchoClient(`cbtest:${name}`, grpc.credentials.createInsecure(), {
      ...cbs.channelOptions(),
      interceptors: [cbs.interceptor()],
    });
    cleanups.push(
      () => Promise.all(servers.map((s) => s.close())),
      () => client.close(),
      () => cbs.close(),
    );
    const registry = new Registry();
    const metrics = new CBSuiteMetrics({ registry });
    metrics.add(cbs, 'inv');
    await warmUp(client, [a, b, c]);

    cbs.instancePanel.setMode(b.address, 'forcedOpen');
    for (let i = 0; i < 9; i++) expect((await say(client, 'x')).error).toBeUndefined();
    const skipsOfB = cbs.stats().instance.skips.get(b.address) ?? 0;
    expect(skipsOfB).toBeGreaterThan(0);
    const B = `suite="inv",level="instance",key="${b.address}"`;
    expect(await value(registry, `cbsuite_instance_skips_total{suite="inv",key="${b.address}"}`)).toBe(skipsOfB);
    expect(await value(registry, `cbsuite_breaker_state{${B},state="forced_open"}`)).toBe(1);
    expect(await value(registry, `cbsuite_transitions_total{${B},from="closed",to="open",cause="mode"}`)).toBe(1);
    expect(await value(registry, 'cbsuite_instance_drops_total{suite="inv"}')).toBe(0);
    // A skip is no service rejection.
    expect((await registry.metrics()).includes('cbsuite_service_rejections_total{')).toBe(false);

    // Every instance open: the call is dropped, counted once for the suite.
    cbs.instancePanel.setMode(a.address, 'forcedOpen');
    cbs.instancePanel.setMode(c.address, 'forcedOpen');
    const dropped = await say(client, 'x');
    expect(circuitBreakLevel(dropped.error)).toBe('instance');
    expect(await value(registry, 'cbsuite_instance_drops_total{suite="inv"}')).toBe(1);
    for (const s of [a, c]) cbs.instancePanel.setMode(s.address, 'normal');

    // The resolver drops b: every series of b leaves the next scrape.
    setTestAddresses(name, [a.port, c.port, d.port]);
    for (let i = 0; i < 200 && d.total() === 0; i++) await say(client, 'x');
    expect(d.total()).toBeGreaterThan(0);
    const text = await registry.metrics();
    expect(text.includes(b.address)).toBe(false);
    expect(text.includes(`key="${d.address}"`)).toBe(true);
    expect(cbs.stats().instance.skips.has(b.address)).toBe(false);
    expect(await value(registry, 'cbsuite_breakers{suite="inv",level="instance"}')).toBe(3);
  });
});

import { State } from '@cbsuite/core';
import { EchoClient, grpc, say, startEchoServer } from '@cbsuite/testkit/echo.js';
import { afterEach, describe, expect, it } from 'vitest';
import { CBSuite } from './cb-suite.js';

// Kitex's ErrorTypeOnServiceLevel ignores ErrServiceDiscovery: a resolver
// that fails says nothing about the service, and counting it would trip the
// breaker, which would then need cooling and probes once discovery is back.

const SAY = 'checkout/echo.v1.Echo/Say';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function suite() {
  const cbs = new CBSuite(undefined, {
    fromService: 'checkout',
    defaultServiceCBConfig: { errRate: 0.5, minSample: 5 },
  });
  cleanups.push(() => cbs.close());
  return cbs;
}

function client(cbs: CBSuite, target: string, instanceLevel: boolean) {
  const c = new EchoClient(target, grpc.credentials.createInsecure(), {
    ...(instanceLevel ? cbs.channelOptions() : {}),
    interceptors: [cbs.interceptor()],
  });
  cleanups.push(() => c.close());
  return c;
}

describe('service discovery errors (Kitex: ErrServiceDiscovery is ignorable)', () => {
  it.each([
    ['dns:///[::1', false, 'Failed to parse DNS address dns:///[::1'],
    ['dns:///[::1', true, 'Failed to parse DNS address dns:///[::1'],
    ['ipv4:not-an-address', false, 'Failed to parse ipv4 address not-an-address'],
    ['ipv4:not-an-address', true, 'Failed to parse ipv4 address not-an-address'],
  ])(
    'a resolver failure for %s (instance level: %s) is not counted, so it never trips the key',
    async (target, instanceLevel, details) => {
      const cbs = suite();
      const bad = client(cbs, target, instanceLevel);
      for (let i = 0; i < 10; i++) {
        const { error } = await say(bad, 'x');
        expect(error?.code).toBe(grpc.status.UNAVAILABLE);
        expect(error?.details).toBe(details);
      }
      const m = cbs.servicePanel.getMetricer(SAY);
      expect([m.successes(), m.failures(), m.timeouts()]).toEqual([0, 0, 0]);
      expect(cbs.servicePanel.breaker(SAY)?.state()).toBe(State.Closed);

      // Discovery is back (here: a channel that resolves): the key's first call goes out, no cooling, no probe.
      const server = await startEchoServer();
      cleanups.push(() => server.close());
      const good = client(cbs, server.address, instanceLevel);
      expect((await say(good, 'hi')).value?.text).toBe('hi');
      expect(server.hits.Say).toBe(1);
    },
  );

  it("counts a server's error that merely reads like a resolver failure (a middle tier forwarding its own)", async () => {
    const cbs = suite();
    const server = await startEchoServer(() => ({
      code: grpc.status.UNAVAILABLE,
      details: 'Name resolution failed for target dns:backend:50051',
    }));
    cleanups.push(() => server.close());
    const c = client(cbs, server.address, false);
    for (let i = 0; i < 5; i++) expect((await say(c, 'x')).error?.details).toMatch(/^Name resolution failed/);
    expect(cbs.servicePanel.getMetricer(SAY).failures()).toBe(5);
    expect(cbs.servicePanel.breaker(SAY)?.state()).toBe(State.Open);
  });
});

import { count, EchoClient, type EchoServer, grpc, say, startEchoServer } from '@cbsuite/testkit/echo.js';
import { ManualClock } from '@cbsuite/testkit/manual-clock.js';
import { afterEach, describe, expect, it } from 'vitest';
import { CBSuite } from './cb-suite.js';
import { isCircuitBreakError } from './circuit-break-error.js';
import { isLoadShedError, loadShedReason } from './load-shed-error.js';
import type { ShedEvent } from './load-shedder.js';
import type { CBSuiteOptions } from './suite-options.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(options: CBSuiteOptions, behavior?: Parameters<typeof startEchoServer>[0]) {
  const server: EchoServer = await startEchoServer(behavior);
  const cbs = new CBSuite(undefined, { fromService: 'f', ...options });
  const client = new EchoClient(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure(), {
    interceptors: [cbs.interceptor()],
  });
  const shed: ShedEvent[] = [];
  cbs.onShed((e) => shed.push(e));
  cleanups.push(
    () => server.close(),
    () => client.close(),
    () => cbs.close(),
  );
  return { server, cbs, client, shed };
}

const SAY = 'f/echo.v1.Echo/Say';
const COUNT = 'f/echo.v1.Echo/Count';

describe('serviceShedding.concurrencyLimit', () => {
  it('fails a call beyond maxConcurrent fast, typed and counted, and admits again once a call ends', async () => {
    const { server, cbs, client, shed } = await setup(
      { serviceShedding: { concurrencyLimit: { maxConcurrent: 2 } } },
      (_m, text) => (text === 'hold' ? { delayMs: 200 } : undefined),
    );
    const held = [say(client, 'hold'), say(client, 'hold')];
    const third = await say(client, 'x');
    expect(third.error?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(third.error?.details).toBe(`shed by cbsuite: concurrency (${SAY})`);
    expect(isLoadShedError(third.error)).toBe(true);
    expect(loadShedReason(third.error)).toBe('concurrency');
    expect(isCircuitBreakError(third.error)).toBe(false);
    expect(cbs.stats().service.shed.concurrency).toEqual(new Map([[SAY, 1]]));
    expect(shed.map((e) => [e.key, e.reason])).toEqual([[SAY, 'concurrency']]);
    await Promise.all(held);
    expect((await say(client, 'y')).value?.text).toBe('y');
    expect(server.hits.Say).toBe(3);
  });
});

describe('serviceShedding.adaptiveThrottle', () => {
  it('stops sending once the backend refuses for overload, and never sent the shed call', async () => {
    const { server, client, cbs } = await setup(
      {
        // The breaker must not open first: it would reject before the throttle decides.
        defaultServiceCBConfig: { enable: false },
        serviceShedding: { adaptiveThrottle: { minRequests: 5, random: () => 0 } },
      },
      () => ({ code: grpc.status.RESOURCE_EXHAUSTED }),
    );
    for (let i = 0; i < 5; i++) expect((await say(client, 'x')).error?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    const sixth = await say(client, 'x');
    expect(loadShedReason(sixth.error)).toBe('adaptive');
    expect(server.hits.Say).toBe(5);
    expect(cbs.stats().service.shed.adaptive).toEqual(new Map([[SAY, 1]]));
  });
});

describe('serviceShedding.latencyThrottle', () => {
  it('while too many calls are in flight, sheds the slow key that holds them and leaves the fast one alone', async () => {
    const clock = new ManualClock();
    const { client, cbs } = await setup(
      {
        serviceBreaker: { now: clock.now },
        serviceShedding: { latencyThrottle: { activeInFlight: 3, minSamples: 1, random: () => 0 } },
      },
      (method) => (method === 'Say' ? { delayMs: 200 } : undefined),
    );
    const slow = [say(client, 'a'), say(client, 'b'), say(client, 'c')];
    clock.advance(1000); // the three have waited 1 s each: Say holds all the waiting
    const shedCall = await say(client, 'd');
    expect(loadShedReason(shedCall.error)).toBe('latency');
    expect((await count(client, 'fast', 2)).error).toBeUndefined();
    await Promise.all(slow);
    // Nothing in flight: throttling is off again, whatever Say's history.
    expect((await say(client, 'e')).value?.text).toBe('e');
    expect(cbs.stats().service.shed.latency).toEqual(new Map([[SAY, 1]]));
    expect(cbs.stats().service.shed.concurrency).toEqual(new Map());
  });

  it('sheds nothing in a healthy process with a slow dependency but few calls in flight', async () => {
    const clock = new ManualClock();
    const { client, cbs } = await setup({
      serviceBreaker: { now: clock.now },
      serviceShedding: { latencyThrottle: { activeInFlight: 3, minSamples: 1, random: () => 0 } },
    });
    for (let i = 0; i < 20; i++) {
      const call = say(client, `x${i}`);
      clock.advance(1000);
      expect((await call).value?.text).toBe(`x${i}`);
    }
    expect(cbs.stats().service.shed.latency).toEqual(new Map());
    expect(COUNT).toBe('f/echo.v1.Echo/Count');
  });
});

describe('serviceShedding options', () => {
  it.each([
    [{ serviceShedding: 3 }, 'serviceShedding must be an object, got 3'],
    [{ serviceShedding: { bulkhead: 1 } }, 'serviceShedding has an unknown field "bulkhead"'],
    [
      { serviceShedding: { concurrencyLimit: { maxConcurrent: 0 } } },
      'serviceShedding.concurrencyLimit.maxConcurrent must be an integer >= 1, got 0',
    ],
    [
      { serviceShedding: { latencyThrottle: {} } },
      'serviceShedding.latencyThrottle.activeInFlight must be a number, got undefined',
    ],
    [
      { serviceShedding: { adaptiveThrottle: { k: 0 } } },
      'serviceShedding.adaptiveThrottle.k must be a finite number >= 1, got 0',
    ],
    [
      { serviceShedding: { adaptiveThrottle: { now: () => 1 } } },
      'serviceShedding.adaptiveThrottle.now is the suite clock',
    ],
  ])('%j is refused: %s', (options, message) => {
    expect(() => new CBSuite(undefined, options as CBSuiteOptions)).toThrow(message);
  });
});

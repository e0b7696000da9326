import { FleetLink, type FleetSync, OptionTypeError } from '@cbsuite/core';
import { expectOptionError, thrownBy } from '@cbsuite/testkit/bad-input.js';
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

/** A small deterministic PRNG (mulberry32), so runs repeat exactly. */
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
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
    expect(cbs.dump().shedding).toEqual({
      keys: { [SAY]: { shed: { concurrency: 1 }, concurrencyLimit: 2, inFlight: 2 } },
    });
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
  it('against a downstream that can take a tenth of the offered calls, sends about k × its accept rate', async () => {
    // Sent all, 90 % of the calls fail. The downstream's capacity grows by one call per ten
    // offered, up to a burst of 5 (a stand-in for a rate, exact whatever the machine's speed);
    // a call beyond it is refused with RESOURCE_EXHAUSTED. Sequential calls, a 1 ms step of the suite clock
    // per offered call, a seeded random: the run repeats exactly.
    const clock = new ManualClock();
    let capacity = 0;
    const { server, client } = await setup(
      {
        defaultServiceCBConfig: { enable: false },
        serviceBreaker: { now: clock.now },
        serviceShedding: { adaptiveThrottle: { windowMs: 1000, bucketNums: 10, random: mulberry32(12) } },
      },
      () => {
        if (capacity < 1) return { code: grpc.status.RESOURCE_EXHAUSTED };
        capacity--;
        return undefined;
      },
    );
    let offered = 0;
    let shedCalls = 0;
    let accepted = 0;
    let sentBefore = 0;
    for (let i = 0; i < 4000; i++) {
      if (i === 2000) sentBefore = server.hits.Say;
      clock.advance(1);
      if (i % 10 === 0) capacity = Math.min(capacity + 1, 5);
      const r = await say(client, 'x');
      if (i < 2000) continue;
      offered++;
      if (isLoadShedError(r.error)) shedCalls++;
      else if (r.error === undefined) accepted++;
    }
    const sent = server.hits.Say - sentBefore;
    expect(sent).toBe(offered - shedCalls);
    // k = 2 and an accept rate of 0.1 (of the offered calls): about a fifth is sent, half of it accepted.
    const acceptRate = accepted / offered;
    const r = { acceptRate, sentShare: sent / offered, sentPerKAcceptRate: sent / offered / (2 * acceptRate) };
    expect(r.acceptRate, JSON.stringify(r)).toBeCloseTo(0.1, 2);
    expect(r.sentPerKAcceptRate, JSON.stringify(r)).toBeGreaterThan(0.85);
    expect(r.sentPerKAcceptRate, JSON.stringify(r)).toBeLessThan(1.15);
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
    expect(cbs.dump().shedding).toEqual({
      latencyActive: true,
      latencyInFlight: 3,
      keys: { [SAY]: { shed: { latency: 1 }, latencyShare: 1 } },
    });
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
    expect(cbs.dump().shedding).toMatchObject({ latencyActive: false, latencyInFlight: 0 });
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

describe('serviceShedding.adaptiveThrottle.shareWithFleet', () => {
  const PATH = 'serviceShedding.adaptiveThrottle.shareWithFleet';
  // What a suite needs of a sync to be built (nothing is shared before a call).
  const attached: string[] = [];
  const sync: FleetSync = {
    attach: (panel, scope) => {
      attached.push(scope);
      panel.attachSync({
        link: (_p, k, b) => new FleetLink(k, b, { quorum: 1, recentMs: 1000 }),
        unlink() {},
        transition() {},
        detach() {},
      });
    },
    publishConfig: async () => {},
    onConfig: () => () => {},
    publishMode: async () => {},
  };

  it.each([
    ['a string', 'yes', {}, 'must be a boolean'],
    ['a number', 1, { sync }, 'must be a boolean'],
    ['null', null, { sync }, 'must be a boolean'],
    ['an object', {}, { sync }, 'must be a boolean'],
    ['true without a sync', true, {}, 'needs the CBSuite option `sync`'],
  ])('refuses %s, typed, naming the field and the value', (_name, value, extra, reason) => {
    const err = thrownBy(
      () =>
        new CBSuite(undefined, {
          ...extra,
          serviceShedding: { adaptiveThrottle: { shareWithFleet: value as boolean } },
        }),
    );
    expect(err).toBeInstanceOf(OptionTypeError);
    expectOptionError(err, PATH, value);
    expect((err as OptionTypeError).reason).toBe(reason);
  });

  it('is off by default, and off means nothing is attached for the throttle', () => {
    attached.length = 0;
    new CBSuite(undefined, { sync, serviceShedding: { adaptiveThrottle: {} } }).close();
    new CBSuite(undefined, { sync, serviceShedding: { adaptiveThrottle: { shareWithFleet: false } } }).close();
    expect(attached).toEqual(['service', 'instance', 'service', 'instance']);
    // false needs no sync.
    expect(
      () => new CBSuite(undefined, { serviceShedding: { adaptiveThrottle: { shareWithFleet: false } } }),
    ).not.toThrow();
    new CBSuite(undefined, { sync, serviceShedding: { adaptiveThrottle: { shareWithFleet: true } } }).close();
    expect(attached.slice(4)).toEqual(['service', 'instance', 'adaptive']);
  });
});

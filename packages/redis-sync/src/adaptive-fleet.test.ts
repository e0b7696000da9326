import { CBSuite, isLoadShedError, loadShedReason } from '@cbsuite/grpc-interceptor';
import { EchoClient, type EchoServer, grpc, say, startEchoServer } from '@cbsuite/testkit/echo.js';
import { ManualClock } from '@cbsuite/testkit/manual-clock.js';
import { client, deletePrefix, type OwnRedis, sharedRedisUrl, startOwnRedis } from '@cbsuite/testkit/redis.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisSync } from './redis-sync.js';

// Replicas of a client, as CBSuites with serviceShedding.adaptiveThrottle.shareWithFleet
// in one process, each with its own RedisSync, clock and random roll, calling
// one real Echo server. Flushes are by hand.
const PREFIX = `cbs-test-adaptive-${process.pid}`;
const KEY = 'checkout/echo.v1.Echo/Say';
let server: EchoServer;
let ns = 0;
const cleanups: (() => unknown)[] = [];

beforeAll(async () => {
  // Calls that say 'busy' are refused for overload nine times in ten (every tenth is answered); others are answered.
  let busy = 0;
  server = await startEchoServer((_m, text) =>
    text === 'busy' && ++busy % 10 !== 0 ? { code: grpc.status.RESOURCE_EXHAUSTED } : undefined,
  );
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(async () => {
  await server.close();
  await deletePrefix(sharedRedisUrl(), PREFIX);
});

async function replica(url: string, namespace: string) {
  const redis = client(url);
  // Flushed by hand; a fleet view lasts quietSyncIntervalMs (5000) + staleAfterMs past the flush that read it.
  const sync = new RedisSync({ redis, namespace, syncIntervalMs: 60_000, staleAfterMs: 60_000 });
  const clock = new ManualClock(Date.now());
  // Above the cap of 0.9: nothing is shed until the test lowers it.
  const roll = { value: 0.95 };
  const cbs = new CBSuite(undefined, {
    fromService: 'checkout',
    serviceBreaker: { now: clock.now },
    // The breaker must not open first: it would reject before the throttle decides.
    defaultServiceCBConfig: { enable: false },
    serviceShedding: { adaptiveThrottle: { shareWithFleet: true, random: () => roll.value } },
    sync,
  });
  const c = new EchoClient(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure(), {
    interceptors: [cbs.interceptor()],
  });
  cleanups.push(
    () => redis.disconnect(),
    () => sync.close(),
    () => cbs.close(),
    () => c.close(),
  );
  await sync.ready();
  return {
    cbs,
    sync,
    clock,
    roll,
    call: (text: string) => say(c, text),
    /** The adaptive throttle's rejection probability for KEY now. */
    p: () => cbs.dump().shedding?.keys[KEY]?.rejectProbability,
  };
}

type Replica = Awaited<ReturnType<typeof replica>>;

/** Node A calls 100 times, 90 refused; node B calls once, answered; both flush. */
async function busyFleet(a: Replica, b: Replica): Promise<void> {
  for (let i = 0; i < 100; i++) await a.call('busy');
  // Alone: 100 requests, 10 accepts.
  expect(a.p()).toBeCloseTo(80 / 101, 12);
  await a.sync.flushNow();
  // B has not called the key yet: its first call is decided on B's counts alone (none), and sent.
  expect(b.p()).toBeUndefined();
  expect((await b.call('hello')).value?.text).toBe('hello');
  // A key new to a node is flushed at once (to learn its stored state): its fleet view may be back already.
  await b.sync.flushNow();
}

describe('serviceShedding.adaptiveThrottle.shareWithFleet through Redis', () => {
  it("gives a replica that has seen nothing the fleet's rejection probability, and sheds its calls by it", async () => {
    const url = sharedRedisUrl();
    const n = `${PREFIX}-${++ns}`;
    const a = await replica(url, n);
    const b = await replica(url, n);
    await busyFleet(a, b);
    // B: its own 1 request and 1 accept, plus A's 100 and 10: (101 − 2 × 11) / 102.
    expect(b.p()).toBeCloseTo(79 / 102, 12);
    expect(b.cbs.dump().shedding?.keys[KEY]).toMatchObject({ fleetRequests: 100, fleetAccepts: 10 });
    b.roll.value = 0.5;
    const hits = server.hits.Say;
    const shed = await b.call('hello');
    expect(isLoadShedError(shed.error)).toBe(true);
    expect(loadShedReason(shed.error)).toBe('adaptive');
    expect(server.hits.Say).toBe(hits);
    expect(b.cbs.stats().service.shed.adaptive).toEqual(new Map([[KEY, 1]]));
    // The shed call is a request of the fleet's too: A reads B's 2 requests and 1 accept.
    await b.sync.flushNow();
    await a.sync.flushNow();
    expect(a.p()).toBeCloseTo((102 - 2 * 11) / 103, 12);

    // A third replica reads both others' counts.
    const c = await replica(url, n);
    expect((await c.call('hello')).value?.text).toBe('hello');
    await c.sync.flushNow();
    expect(c.p()).toBeCloseTo((103 - 2 * 12) / 104, 12);
    expect(c.sync.stats().keys).toBe(1);
  });

  it('falls back to its own counts once the fleet view is stale', async () => {
    const url = sharedRedisUrl();
    const n = `${PREFIX}-${++ns}`;
    const a = await replica(url, n);
    const b = await replica(url, n);
    await busyFleet(a, b);
    expect(b.p()).toBeCloseTo(79 / 102, 12);
    // The view lasts 65 s past the flush that read it; B's own counts stay in its 120 s window.
    b.clock.advance(64_999);
    expect(b.p()).toBeCloseTo(79 / 102, 12);
    b.clock.advance(1);
    expect(b.p()).toBe(0);
    // The next flush reads the fleet again.
    await b.sync.flushNow();
    expect(b.p()).toBeCloseTo(79 / 102, 12);
  });
});

describe('shareWithFleet when Redis stops', () => {
  let own: OwnRedis;
  beforeAll(async () => {
    own = await startOwnRedis();
  });
  afterAll(() => own.kill());

  it('decides on each replica its own counts, sends calls, and reads the fleet again once Redis is back', async () => {
    const n = `${PREFIX}-own-${++ns}`;
    const a = await replica(own.url, n);
    const b = await replica(own.url, n);
    await busyFleet(a, b);
    await a.sync.flushNow();
    expect(a.p()).toBeCloseTo((101 - 2 * 11) / 102, 12);
    expect(b.p()).toBeCloseTo(79 / 102, 12);

    await own.kill();
    await a.sync.flushNow();
    await b.sync.flushNow();
    expect([a.sync.stats().connected, b.sync.stats().connected]).toEqual([false, false]);
    // Each on its own counts: A 100 requests and 10 accepts, B 1 and 1.
    expect(a.p()).toBeCloseTo(80 / 101, 12);
    expect(b.p()).toBe(0);
    expect(b.cbs.dump().shedding?.keys[KEY]).toEqual({ shed: {}, rejectProbability: 0 });
    // B's calls go out, and never wait on Redis.
    b.roll.value = 0.5;
    const started = performance.now();
    expect((await b.call('hello')).value?.text).toBe('hello');
    expect(performance.now() - started).toBeLessThan(500);

    // Redis restarts empty: what was flushed before is gone; what was recorded since is sent.
    await own.start();
    await Promise.all([a.sync.ready(), b.sync.ready()]);
    for (let i = 0; i < 20; i++) await a.call('busy');
    await a.sync.flushNow();
    await b.sync.flushNow();
    expect([a.sync.stats().connected, b.sync.stats().connected]).toEqual([true, true]);
    // A replica that joins now reads A's 20 requests and 2 accepts, and B's call made while Redis was down.
    const c = await replica(own.url, n);
    expect((await c.call('hello')).value?.text).toBe('hello');
    await c.sync.flushNow();
    expect(c.p()).toBeCloseTo((22 - 2 * 4) / 23, 12);
  });
});

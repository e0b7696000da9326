import { NO_PERMIT, Panel, type PanelOptions, PERMIT, rateTripFunc, State } from '@cbsuite/core';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../core/src/test-support/manual-clock.js';
import { RedisSync, type RedisSyncOptions } from './redis-sync.js';
import { client, deletePrefix, type OwnRedis, sharedRedisUrl, startOwnRedis } from './test-support/redis.js';

// Nodes of one fleet in one process, each with its own client, clock and
// panel; flushes are made by hand (flushNow) so that every step is explicit.
const PREFIX = `cbs-test-sync-${process.pid}`;
let url: string;
let ns = 0;
const cleanups: (() => unknown)[] = [];
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

beforeAll(() => {
  url = sharedRedisUrl();
  process.on('unhandledRejection', onUnhandled);
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  expect(unhandled).toEqual([]);
});
afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  await deletePrefix(url, PREFIX);
});

const KEY = 'checkout/echo.v1.Echo/Say';

interface Node {
  clock: ManualClock;
  redis: Redis;
  sync: RedisSync;
  panel: Panel;
  transitions: string[];
  changed: () => Promise<string>;
}

interface NodeOptions extends Partial<Omit<RedisSyncOptions, 'redis'>> {
  url?: string;
  panel?: PanelOptions;
  skewMs?: number;
  /** Wait until the sync reached Redis (default true). */
  ready?: boolean;
}

function namespace(): string {
  return `${PREFIX}-${++ns}`;
}

async function node(namespace: string, o: NodeOptions = {}): Promise<Node> {
  const skew = o.skewMs ?? 0;
  const clock = new ManualClock(Date.now() + skew);
  const redis = client(o.url ?? url);
  const { url: _u, panel: panelOptions, skewMs: _s, ready = true, ...syncOptions } = o;
  const sync = new RedisSync({
    redis,
    namespace,
    syncIntervalMs: 60_000,
    now: () => Date.now() + skew,
    ...syncOptions,
  });
  const transitions: string[] = [];
  let waiting: ((t: string) => void) | undefined;
  const panel = new Panel(
    { now: clock.now, shouldTrip: rateTripFunc(0.5, 20), ...panelOptions },
    (key, from, to, _m, info) => {
      const t = `${key} ${from}>${to} ${info.cause}${info.fleet ? ' fleet' : ''}`;
      transitions.push(t);
      waiting?.(t);
    },
  );
  sync.attach(panel, 'svc');
  cleanups.push(
    () => sync.close(),
    () => redis.disconnect(),
  );
  if (ready) await sync.ready();
  const changed = () =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no state change within 5 s')), 5000);
      waiting = (t) => {
        clearTimeout(timer);
        waiting = undefined;
        resolve(t);
      };
    });
  return { clock, redis, sync, panel, transitions, changed };
}

const fail = (n: Node, times: number, key = KEY) => {
  for (let i = 0; i < times; i++) n.panel.fail(key);
};
const succeed = (n: Node, times: number, key = KEY) => {
  for (let i = 0; i < times; i++) n.panel.succeed(key);
};

/** Two nodes whose breaker for KEY opened for the fleet (A tripped it; B heard). */
async function fleetOpen(namespace: string, o: NodeOptions = {}): Promise<[Node, Node]> {
  const a = await node(namespace, o);
  const b = await node(namespace, o);
  fail(a, 10);
  await a.sync.flushNow();
  fail(b, 9);
  await b.sync.flushNow();
  const heard = a.changed();
  fail(b, 1);
  expect(b.transitions).toEqual([`${KEY} 2>0 trip fleet`]);
  expect(await heard).toBe(`${KEY} 2>0 remote fleet`);
  await b.sync.settled();
  return [a, b];
}

describe('RedisSync: the fleet window', () => {
  it("adds the rest of the fleet's counts, not its own", async () => {
    const n = namespace();
    const a = await node(n);
    const b = await node(n);
    succeed(a, 7);
    fail(a, 3);
    await a.sync.flushNow();
    succeed(b, 5);
    await b.sync.flushNow();
    await a.sync.flushNow();
    const link = (x: Node) => x.panel.breaker(KEY)?.link;
    expect(link(b)?.view).toMatchObject({ successes: 7, failures: 3, timeouts: 0, failingNodes: 1 });
    expect(link(b)?.quorum).toBe(2);
    expect(link(a)?.view).toMatchObject({ successes: 5, failures: 0, failingNodes: 0 });
    expect(b.panel.breaker(KEY)?.fleetView()).toEqual(link(b)?.view);
    expect(new Panel().getBreaker(KEY).fleetView()).toBeUndefined();
    expect(a.sync.stats()).toMatchObject({ connected: true, keys: 1 });
  });

  it('trips once the fleet holds minSample calls and opens every node', async () => {
    const [a, b] = await fleetOpen(namespace());
    for (const x of [a, b]) {
      expect(x.panel.breaker(KEY)?.state()).toBe(State.Open);
      expect(x.panel.breaker(KEY)?.isFleetScoped()).toBe(true);
      expect(x.panel.isAllowed(KEY)).toBe(false);
    }
    expect(a.panel.getMetricer(KEY).samples()).toBe(10);
  });

  it('lets one sick node open alone while the fleet succeeds (quorum 2)', async () => {
    const n = namespace();
    const sick = await node(n);
    const healthy = await node(n);
    succeed(healthy, 40);
    await healthy.sync.flushNow();
    fail(sick, 19);
    await sick.sync.flushNow();
    fail(sick, 1);
    expect(sick.transitions).toEqual([`${KEY} 2>0 trip`]);
    await sick.sync.settled();
    await healthy.sync.flushNow();
    expect(healthy.panel.breaker(KEY)?.state()).toBe(State.Closed);
    expect(healthy.panel.breaker(KEY)?.link?.view?.failingNodes).toBe(1);
    expect(await healthy.redis.exists(`${n}:{svc:${KEY}}:s`)).toBe(0);
  });

  it("opens the fleet on any node's trip with quorum 1", async () => {
    const n = namespace();
    const a = await node(n, { quorum: 1 });
    const b = await node(n, { quorum: 1 });
    succeed(b, 40);
    await b.sync.flushNow();
    fail(a, 19);
    await a.sync.flushNow();
    const heard = b.changed();
    fail(a, 1);
    expect(await heard).toBe(`${KEY} 2>0 remote fleet`);
  });

  it('ages counts out of the window by the Redis server clock, whatever the nodes clocks say', async () => {
    const n = namespace();
    const a = await node(n, { skewMs: -40_000, syncBuckets: 10, panel: { bucketTimeMs: 5, bucketNums: 100 } });
    const b = await node(n, { skewMs: 40_000, panel: { bucketTimeMs: 5, bucketNums: 100 } });
    fail(a, 5);
    await a.sync.flushNow();
    await b.sync.flushNow();
    expect(b.panel.breaker(KEY)?.link?.view?.failures ?? 0).toBe(0); // nothing of B's own yet
    succeed(b, 1);
    await b.sync.flushNow();
    expect(b.panel.breaker(KEY)?.link?.view?.failures).toBe(5);
    await new Promise((r) => setTimeout(r, 600)); // the 500 ms window on the Redis server's clock
    await b.sync.flushNow();
    expect(b.panel.breaker(KEY)?.link?.view?.failures).toBe(0);
  });
});

describe('RedisSync: shared state and the fleet probe', () => {
  it('lets exactly one node probe after cooling; the close reaches the others', async () => {
    const n = namespace();
    const [a, b] = await fleetOpen(n);
    a.clock.advance(5000);
    b.clock.advance(5000);
    expect(a.panel.acquire(KEY)).toBe(NO_PERMIT);
    expect(b.panel.acquire(KEY)).toBe(NO_PERMIT);
    await a.sync.flushNow();
    await b.sync.flushNow();
    expect([a.sync.stats().leases, b.sync.stats().leases]).toEqual([1, 0]);
    const probe = a.panel.acquire(KEY);
    expect(probe).toBeGreaterThan(PERMIT);
    expect(b.panel.acquire(KEY)).toBe(NO_PERMIT);
    a.panel.succeed(KEY, undefined, probe);
    a.clock.advance(200);
    const heard = b.changed();
    a.panel.succeed(KEY, undefined, a.panel.acquire(KEY));
    expect(await heard).toBe(`${KEY} 0>2 remote fleet`);
    expect(b.panel.acquire(KEY)).toBe(PERMIT);
    expect(b.transitions.filter((t) => t.includes('>1'))).toEqual([]);
    await a.sync.settled();
    expect(a.sync.stats().leases).toBe(0);
    expect(await a.redis.exists(`${n}:{svc:${KEY}}:l`)).toBe(0);
  });

  it('starts the fleet window afresh when the fleet closes: the outcomes that tripped it do not trip it again', async () => {
    const n = namespace();
    const [a, b] = await fleetOpen(n);
    for (const x of [a, b]) x.clock.advance(5000);
    a.panel.acquire(KEY);
    await a.sync.flushNow();
    const heard = b.changed();
    for (let i = 0; i < 2; i++) a.panel.succeed(KEY, undefined, a.panel.acquire(KEY));
    expect(await heard).toBe(`${KEY} 0>2 remote fleet`);
    await a.sync.settled();
    expect(await a.redis.exists(`${n}:{svc:${KEY}}:w`, `${n}:{svc:${KEY}}:n`)).toBe(0);
    for (const x of [a, b]) expect(x.panel.breaker(KEY)?.fleetView()).toBeUndefined();
    fail(a, 1);
    await a.sync.flushNow();
    fail(b, 1);
    await b.sync.flushNow();
    fail(b, 1);
    for (const x of [a, b]) expect(x.panel.breaker(KEY)?.state()).toBe(State.Closed);
    expect(b.panel.breaker(KEY)?.fleetView()).toMatchObject({ successes: 0, failures: 1, failingNodes: 1 });
    expect(b.transitions).toEqual([`${KEY} 2>0 trip fleet`, `${KEY} 0>2 remote fleet`]);
  });

  it('re-opens everywhere, with the cooling backoff, when the probe fails', async () => {
    const backoff = { panel: { shouldTrip: rateTripFunc(0.5, 20), coolingBackoff: { multiplier: 2, jitter: 0 } } };
    const [a, b] = await fleetOpen(namespace(), backoff);
    a.clock.advance(5000);
    a.panel.acquire(KEY);
    await a.sync.flushNow();
    const probe = a.panel.acquire(KEY);
    a.panel.fail(KEY, undefined, probe);
    await a.sync.settled();
    // B is already OPEN: the new cooling arrives without a transition. A later message marks its arrival.
    const heard = new Promise<void>((resolve) => b.sync.onConfig('sentinel', () => resolve()));
    await a.sync.publishConfig('sentinel', 'k', 1);
    await heard;
    const bb = b.panel.breaker(KEY);
    expect(bb?.attempt()).toBe(1);
    const remaining = (bb?.coolsAt() ?? 0) - b.clock.t;
    expect(remaining).toBeGreaterThan(9_000);
    expect(remaining).toBeLessThanOrEqual(10_000);
  });

  it('hands the probe to another node when the prober dies', async () => {
    const [a, b] = await fleetOpen(namespace(), { leaseTtlMs: 300 });
    a.clock.advance(5000);
    b.clock.advance(5000);
    a.panel.acquire(KEY);
    await a.sync.flushNow();
    expect(a.panel.acquire(KEY)).toBeGreaterThan(PERMIT);
    a.redis.disconnect(); // it dies holding the lease
    const started = Date.now();
    for (let i = 0; i < 40 && b.sync.stats().leases === 0; i++) {
      b.panel.acquire(KEY);
      await b.sync.flushNow();
      if (b.sync.stats().leases === 0) await new Promise((r) => setTimeout(r, 50));
    }
    expect(b.sync.stats().leases).toBe(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    expect(b.panel.acquire(KEY)).toBeGreaterThan(PERMIT);
  });

  it('brings a node that joins later up to date from the store', async () => {
    const n = namespace();
    await fleetOpen(n);
    const late = await node(n);
    expect(late.panel.breaker(KEY)?.state()).toBe(State.Open);
    expect(late.panel.breaker(KEY)?.isFleetScoped()).toBe(true);
    const remaining = (late.panel.breaker(KEY)?.coolsAt() ?? 0) - late.clock.t;
    expect(remaining).toBeGreaterThan(4_000);
    expect(remaining).toBeLessThanOrEqual(5_000);
  });

  it('translates the open time between nodes whose clocks differ by minutes', async () => {
    const n = namespace();
    const [a, b] = await fleetOpen(n, { skewMs: 0 });
    const ahead = await node(n, { skewMs: 120_000 });
    const behind = await node(n, { skewMs: -120_000 });
    for (const x of [a, b, ahead, behind]) {
      const remaining = (x.panel.breaker(KEY)?.coolsAt() ?? 0) - x.clock.t;
      expect(remaining).toBeGreaterThan(4_000);
      expect(remaining).toBeLessThanOrEqual(5_000);
    }
  });

  it('keeps two namespaces on one Redis apart', async () => {
    const [a] = await fleetOpen(namespace());
    const other = await node(namespace());
    fail(a, 5);
    await a.sync.flushNow();
    succeed(other, 1);
    await other.sync.flushNow();
    expect(other.panel.breaker(KEY)?.state()).toBe(State.Closed);
    expect(other.panel.breaker(KEY)?.link?.view).toMatchObject({ successes: 0, failures: 0, failingNodes: 0 });
  });
});

describe('RedisSync: trust', () => {
  it('ignores and counts garbage, oversized and forged messages, and applies signed ones', async () => {
    const n = namespace();
    const secret = 'fleet secret';
    const [a, b] = await fleetOpen(n, { secret });
    const raw = client(url);
    cleanups.push(() => raw.disconnect());
    const channel = `${n}:events`;
    const forged = JSON.stringify({
      v: 1,
      t: 'state',
      scope: 'svc',
      key: KEY,
      state: 'closed',
      ts: Date.now() + 60_000,
      openedAt: 0,
      coolingMs: 0,
      attempt: 0,
      node: 'intruder',
      sig: 'AAAA',
    });
    const unsigned = JSON.parse(forged) as Record<string, unknown>;
    delete unsigned.sig;
    for (const m of [
      'not json',
      '[]',
      '{"v":2}',
      JSON.stringify({ v: 1, t: 'state', scope: 'svc', key: KEY, state: 'maybe', ts: 1, node: 'x' }),
      JSON.stringify({ v: 1, t: 'weird', scope: 'svc', key: KEY, ts: 1, node: 'x' }),
      'x'.repeat(20_000),
      forged,
      JSON.stringify(unsigned),
    ]) {
      await raw.publish(channel, m);
    }
    // A signed message sent last: once it arrives, every earlier one was handled.
    const heard = new Promise<void>((resolve) => b.sync.onConfig('sentinel', () => resolve()));
    await a.sync.publishConfig('sentinel', 'k', 1);
    await heard;
    const refused = b.sync.stats().refused;
    expect(refused).toEqual({ garbage: 5, oversized: 1, forged: 2 });
    expect(b.panel.breaker(KEY)?.state()).toBe(State.Open);
  });

  it('survives garbage written into its Redis keys', async () => {
    const n = namespace();
    const a = await node(n);
    const raw = client(url);
    cleanups.push(() => raw.disconnect());
    const base = `${n}:{svc:${KEY}}`;
    await raw.hset(`${base}:w`, 'junk', 'x', 'abc:s', '5', `${Math.floor(Date.now() / 1000)}:s`, 'NaN', 'n:', '1');
    await raw.hset(`${base}:n`, 'other', 'not-a-time');
    await raw.set(`${base}:s`, '{"v":1,"t":"state","scope":"svc"}');
    succeed(a, 2);
    await a.sync.flushNow();
    expect(a.panel.breaker(KEY)?.link?.view).toMatchObject({ successes: 0, failures: 0, failingNodes: 0 });
    expect(a.sync.stats().refused.garbage).toBe(1);
    expect(await raw.hkeys(`${base}:w`)).toEqual([expect.stringMatching(/^\d+:s$/)]);
    expect(await raw.hkeys(`${base}:n`)).toEqual([]);
  });

  it('puts every key under the namespace, with an expiry', async () => {
    const n = namespace();
    const [a] = await fleetOpen(n);
    await a.sync.publishConfig('cfg', 'k', { x: 1 });
    const keys = await a.redis.keys(`${n}:*`);
    expect(keys.length).toBeGreaterThanOrEqual(5);
    for (const k of keys) expect(await a.redis.pttl(k)).toBeGreaterThan(0);
  });
});

describe('RedisSync: configs', () => {
  it('carries configs to every node, late joiners included, and counts refused ones', async () => {
    const n = namespace();
    const a = await node(n);
    const b = await node(n);
    const got: string[] = [];
    const arrived = new Promise<void>((resolve) =>
      b.sync.onConfig('limits', (key, value) => {
        if (typeof value !== 'number') throw new TypeError(`not a number: ${JSON.stringify(value)}`);
        got.push(`${key}=${value}`);
        if (got.length === 2) resolve();
      }),
    );
    await a.sync.publishConfig('limits', 'x', 'not a number');
    await a.sync.publishConfig('limits', 'x', 3);
    await a.sync.publishConfig('limits', 'y', 4);
    await arrived;
    expect(got).toEqual(['x=3', 'y=4']);
    expect(b.sync.stats().refusedConfigs).toBe(1);
    const late = await node(n);
    const stored: string[] = [];
    late.sync.onConfig('limits', (key, value) => stored.push(`${key}=${value}`));
    await late.sync.ready();
    await new Promise((r) => setTimeout(r, 100));
    expect(stored.sort()).toEqual(['x=3', 'y=4']);
  });
});

describe('RedisSync: when Redis is in trouble', () => {
  let own: OwnRedis;
  beforeAll(async () => {
    own = await startOwnRedis();
  });
  afterAll(async () => {
    await own.kill();
  });

  it('decides alone while Redis is down at start, keeps counts bounded, and syncs once it is back', async () => {
    await own.kill();
    const n = namespace();
    const a = await node(n, { url: own.url, ready: false });
    expect(a.sync.stats().connected).toBe(false);
    fail(a, 20);
    expect(a.panel.breaker(KEY)?.state()).toBe(State.Open);
    expect(a.panel.breaker(KEY)?.isFleetScoped()).toBe(false);
    await a.sync.flushNow();
    expect(a.sync.stats().commands).toBe(0);
    a.clock.advance(5000);
    expect(a.panel.acquire(KEY)).toBeGreaterThan(PERMIT); // probes alone: no fleet to wait for
    a.clock.advance(20_000);
    await a.sync.flushNow();
    expect(a.sync.stats().droppedStale).toBe(20);
    await own.start();
    await a.sync.ready();
    succeed(a, 3);
    await a.sync.flushNow();
    expect(a.sync.stats()).toMatchObject({ connected: true, failedFlushes: 0 });
  });

  it('restores the fleet state after Redis restarts empty', async () => {
    const n = namespace();
    const [a, b] = await fleetOpen(n, { url: own.url });
    await a.sync.settled();
    await own.kill();
    await own.start();
    await Promise.all([a.sync.ready(), b.sync.ready()]);
    await a.sync.settled();
    await b.sync.settled();
    const raw = client(own.url);
    cleanups.push(() => raw.disconnect());
    expect(await raw.exists(`${n}:{svc:${KEY}}:s`)).toBe(1);
    const late = await node(n, { url: own.url });
    await late.sync.ready();
    expect(late.panel.breaker(KEY)?.state()).toBe(State.Open);
  });
});

describe('RedisSync: a slow Redis', () => {
  let own: OwnRedis;
  beforeAll(async () => {
    own = await startOwnRedis();
  });
  afterAll(async () => {
    await own.kill();
  });

  it('treats a Redis slower than flushTimeoutMs as gone: the fleet probe falls back to local decisions', async () => {
    const [a] = await fleetOpen(namespace(), { url: own.url, flushTimeoutMs: 200 });
    a.clock.advance(5000);
    expect(a.panel.acquire(KEY)).toBe(NO_PERMIT);
    const admin = client(own.url);
    cleanups.push(() => admin.disconnect());
    await admin.call('CLIENT', 'PAUSE', '1500', 'ALL');
    const started = performance.now();
    await a.sync.flushNow();
    expect(performance.now() - started).toBeLessThan(1000);
    expect(a.sync.stats()).toMatchObject({ connected: false, failedFlushes: 1 });
    // Calls never waited on Redis; now the node probes on its own instead of waiting for the fleet's probe.
    expect(a.panel.acquire(KEY)).toBeGreaterThan(PERMIT);
  });
});

describe('RedisSync: options', () => {
  it.each([
    [{ namespace: 'has space' }, /namespace must be 1-64 characters/],
    [{ namespace: 'a{b}' }, /namespace/],
    [{ syncIntervalMs: 5 }, /syncIntervalMs must be an integer in \[10, 60000\], got 5/],
    [{ quorum: 0 }, /quorum must be an integer in \[1, 1000\], got 0/],
    [{ secret: '' }, /secret must be a non-empty string or a Buffer/],
    [{ nodeId: 'a b' }, /nodeId must be/],
    [{ redis: {} }, /redis must be an ioredis Redis or Cluster client/],
    [{ flushEvery: 1 }, /unknown field "flushEvery"/],
  ])('refuses %j', (bad, message) => {
    const redis = client(url, { lazyConnect: true });
    cleanups.push(() => redis.disconnect());
    expect(() => new RedisSync({ redis, namespace: 'ok', ...(bad as object) } as RedisSyncOptions)).toThrow(message);
  });

  it('refuses a scope used twice and a bad scope name', async () => {
    const a = await node(namespace());
    expect(() => a.sync.attach(new Panel(), 'svc')).toThrow(/already attached/);
    expect(() => a.sync.attach(new Panel(), 'a b')).toThrow(/scope must be/);
  });

  it('closes: releases its lease, unsubscribes, and leaves the client open', async () => {
    const n = namespace();
    const [a] = await fleetOpen(n);
    a.clock.advance(5000);
    a.panel.acquire(KEY);
    await a.sync.flushNow();
    expect(a.sync.stats().leases).toBe(1);
    await a.sync.close();
    await a.sync.close();
    expect(a.sync.stats().leases).toBe(0);
    expect(a.redis.status).toBe('ready');
    expect(a.panel.breaker(KEY)?.link).toBeUndefined();
    expect(await a.redis.exists(`${n}:{svc:${KEY}}:l`)).toBe(0);
    // b is still subscribed; a is not.
    expect(await a.redis.pubsub('NUMSUB', `${n}:events`)).toEqual([`${n}:events`, 1]);
  });
});

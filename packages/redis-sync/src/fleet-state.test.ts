import { NO_PERMIT, PERMIT, rateTripFunc, State } from '@cbsuite/core';
import { client, deletePrefix, sharedRedisUrl } from '@cbsuite/testkit/redis.js';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { breakerKeys, KEY, openFleet, readHeader, type SyncNodeOptions, syncNodes } from './test-support/sync-node.js';

// Shared states, the fleet's probe, forced modes and configs.
const PREFIX = `cbs-test-state-${process.pid}`;
let ns = 0;
const namespace = () => `${PREFIX}-${++ns}`;
const nodes = syncNodes(sharedRedisUrl);
const node = nodes.node;
afterEach(() => nodes.cleanup());
afterAll(() => deletePrefix(sharedRedisUrl(), PREFIX));
const fleetOpen = (n: string, o: SyncNodeOptions = {}) => openFleet(node, n, o);

describe('shared state and the fleet probe', () => {
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
    await a.sync.flushNow();
    expect(a.sync.stats().leases).toBe(0);
    expect(await a.redis.hexists(breakerKeys(n).window, 'l')).toBe(0);
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
    const k = breakerKeys(n);
    // The close emptied the shared window; what a flush wrote since holds no counts.
    expect(((await readHeader(a.redis, k.window)) ?? [0, 0, 0, 0, 0]).slice(1, 5)).toEqual([0, 0, 0, 0]);
    expect(await a.redis.zcard(k.failing)).toBe(0);
    for (const x of [a, b]) {
      const v = x.panel.breaker(KEY)?.fleetView();
      expect([v?.successes ?? 0, v?.failures ?? 0, v?.timeouts ?? 0]).toEqual([0, 0, 0]);
    }
    a.fail(1);
    await a.sync.flushNow();
    b.fail(1);
    await b.sync.flushNow();
    b.fail(1);
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
    // It dies holding the lease: its connections go, nothing is released.
    (a.sync as unknown as { loop: { conn: { cmd: { disconnect(): void } } } }).loop.conn.cmd.disconnect();
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

  it('tells a node the stored state in its first flush of a key, without pub/sub', async () => {
    const n = namespace();
    const [a] = await fleetOpen(n);
    const other = await node(n);
    // Forget what catching up brought: the flush alone must bring it back.
    other.panel.removeBreaker(KEY);
    other.panel.getBreaker(KEY);
    expect(other.panel.breaker(KEY)?.state()).toBe(State.Closed);
    await other.sync.flushDue();
    expect(other.panel.breaker(KEY)?.state()).toBe(State.Open);
    expect(a.panel.breaker(KEY)?.state()).toBe(State.Open);
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
    a.fail(5);
    await a.sync.flushNow();
    other.succeed(1);
    await other.sync.flushNow();
    expect(other.panel.breaker(KEY)?.state()).toBe(State.Closed);
    expect(other.panel.breaker(KEY)?.fleetView()).toMatchObject({ successes: 0, failures: 0, failingNodes: 0 });
  });

  it('puts every key under the namespace, with an expiry', async () => {
    const n = namespace();
    const [a] = await fleetOpen(n);
    await a.sync.publishConfig('cfg', 'k', { x: 1 });
    await a.sync.publishMode('svc', 'other', 'forcedOpen');
    const keys = await a.redis.keys(`${n}:*`);
    expect(keys.length).toBeGreaterThanOrEqual(5);
    for (const k of keys) expect(await a.redis.pttl(k)).toBeGreaterThan(0);
  });
});

describe('fleet-wide forced modes', () => {
  it('sets a mode on every node, now and on nodes that join later; normal clears it', async () => {
    const n = namespace();
    const a = await node(n);
    const b = await node(n);
    const heard = b.changed();
    await a.sync.publishMode('svc', KEY, 'forcedOpen');
    expect(a.panel.breaker(KEY)?.mode()).toBe('forcedOpen');
    expect(await heard).toBe(`${KEY} 2>0 mode`);
    expect(b.panel.isAllowed(KEY)).toBe(false);
    const late = await node(n);
    expect(late.panel.breaker(KEY)?.mode()).toBe('forcedOpen');
    await a.sync.publishMode('svc', 'k2', 'metricsOnly');
    await a.sync.publishMode('svc', 'k3', 'disabled');
    const cleared = b.changed();
    await a.sync.publishMode('svc', KEY, 'normal');
    expect(await cleared).toBe(`${KEY} 0>2 mode`);
    const later = await node(n);
    expect(later.panel.breaker(KEY)).toBeUndefined();
    expect(later.panel.breaker('k2')?.mode()).toBe('metricsOnly');
    expect(later.panel.breaker('k3')?.mode()).toBe('disabled');
  });

  it('refuses a mode for a scope without a name, a key, or a mode it does not know', async () => {
    const a = await node(namespace());
    await expect(a.sync.publishMode('', KEY, 'forcedOpen')).rejects.toThrow(/publishMode needs a scope, got ""/);
    await expect(a.sync.publishMode('svc', '', 'forcedOpen')).rejects.toThrow(/publishMode needs a key, got ""/);
    await expect(a.sync.publishMode('svc', KEY, 'open' as never)).rejects.toThrow(
      /mode must be one of normal, disabled, metricsOnly, forcedOpen, got "open"/,
    );
  });
});

describe('configs', () => {
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
    const late = await node(n, { ready: false });
    const stored: string[] = [];
    late.sync.onConfig('limits', (key, value) => stored.push(`${key}=${value}`));
    await late.sync.ready();
    expect(stored.sort()).toEqual(['x=3', 'y=4']);
  });

  it('writes a newer config back over an older one found in the store', async () => {
    const n = namespace();
    const a = await node(n);
    a.sync.onConfig('limits', () => {});
    await a.sync.publishConfig('limits', 'x', 1);
    const field = 'c\nlimits\nx';
    const raw = client(sharedRedisUrl());
    nodes.defer(() => raw.disconnect());
    const { keys } = breakerKeys(n);
    const first = await raw.hget(keys.config, field);
    await a.sync.publishConfig('limits', 'x', 2);
    await raw.hset(keys.config, field, first as string); // someone puts the old one back
    const late = await node(n, { ready: false });
    const seen: unknown[] = [];
    late.sync.onConfig('limits', (_k, v) => seen.push(v));
    await late.sync.ready();
    expect(seen).toEqual([1]);
    // A running node that knows better repairs the store when it reads it.
    const b = await node(n, { ready: false });
    b.sync.onConfig('limits', () => {});
    await b.sync.ready();
    await (a.sync as unknown as { loop: { configs: { read(): Promise<void> } } }).loop.configs.read();
    expect(JSON.parse((await raw.hget(keys.config, field)) as string).value).toBe(2);
  });
});

import { NO_PERMIT, PERMIT, State } from '@cbsuite/core';
import { client, deletePrefix, sharedRedisUrl } from '@cbsuite/testkit/redis.js';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MessageCodec } from './messages.js';
import { breakerKeys, KEY, openFleet, packRecord, type SyncNodeOptions, syncNodes } from './test-support/sync-node.js';

// What a writer to Redis can do to a fleet, with and without a secret:
// garbage and wrong types in every key, forged and replayed records. Nothing
// crashes, every refusal is counted, and with a secret nothing that moves a
// breaker is acted on unless it is authenticated or bounded.
const PREFIX = `cbs-test-trust-${process.pid}`;
let ns = 0;
const namespace = () => `${PREFIX}-${++ns}`;
const nodes = syncNodes(sharedRedisUrl);
const node = nodes.node;
let raw: Redis;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
beforeAll(() => {
  raw = client(sharedRedisUrl());
  process.on('unhandledRejection', onUnhandled);
});
afterEach(async () => {
  await nodes.cleanup();
  expect(unhandled).toEqual([]);
});
afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  raw.disconnect();
  await deletePrefix(sharedRedisUrl(), PREFIX);
});
const SECRET: SyncNodeOptions = { secret: 'fleet secret' };
const serverNow = async () => {
  const [s, us] = await raw.time();
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
};

describe('keys of the wrong type', () => {
  it('settles ready() when the index of open keys and the config hash have the wrong type, and repairs them', async () => {
    const n = namespace();
    const { keys, group } = breakerKeys(n);
    await raw.set(keys.index(group), 'not a sorted set');
    await raw.set(keys.config, 'not a hash');
    const a = await node(n, { ready: false });
    a.sync.onConfig('limits', () => {});
    await a.sync.ready();
    expect(a.sync.stats().repaired).toBe(2);
    expect(await raw.type(keys.config)).toBe('none');
  });

  it('repairs a window, failing set, reporting set and sequence key of the wrong type, and keeps the key syncing', async () => {
    const n = namespace();
    const k = breakerKeys(n);
    const a = await node(n);
    a.succeed(1);
    await a.sync.flushNow();
    const token = (a.sync as unknown as { loop: { ctx: { token: string } } }).loop.ctx.token;
    await raw.del(k.window, k.failing, k.reporting, k.keys.seq(0, token));
    await raw.set(k.window, 'x');
    await raw.set(k.failing, 'x');
    await raw.hset(k.reporting, 'x', '1');
    await raw.lpush(k.keys.seq(0, token), 'x');
    a.succeed(3);
    await a.sync.flushNow();
    const b = await node(n);
    b.succeed(1);
    await b.sync.flushNow();
    expect(b.panel.breaker(KEY)?.fleetView()).toMatchObject({ successes: 3 });
    expect(a.sync.stats()).toMatchObject({ failedFlushes: 0, repaired: 4 });
  });
});

describe('garbage in every key', () => {
  it.each([
    ['without a secret', {}],
    ['with a secret', SECRET],
  ])('ignores, repairs and counts garbage, %s', async (_name, o) => {
    const n = namespace();
    const k = breakerKeys(n);
    const a = await node(n, o);
    const now = await serverNow();
    await raw.hset(k.window, {
      h: 'junk',
      b0: 'x',
      b1: '1,2,3',
      b2: packRecord(Math.floor(now / 2000), -1, 2, 3, 4),
      b3: packRecord(Math.floor(now / 2000), Number.NaN, 0, 0, 0),
      b4: packRecord(Math.floor(now / 2000), 1.5, 0, 0, 0),
      sv: 'abc',
      st: '{}',
      sx: 'x',
      l: 'has spaces in it',
      lx: 'x',
      other: 'field',
    });
    await raw.zadd(k.reporting, now, 'r'.repeat(500));
    await raw.set(k.keys.index(k.group), 'x');
    await raw.hset(k.keys.config, 'c\nlimits\nx', '{"v":2', 'junk', '[]');
    a.sync.onConfig('limits', () => {});
    a.succeed(2);
    await a.sync.flushNow();
    await a.sync.flushNow();
    expect(a.panel.breaker(KEY)?.state()).toBe(State.Closed);
    expect(a.panel.breaker(KEY)?.fleetView()).toMatchObject({ successes: 0, failures: 0 });
    const s = a.sync.stats();
    expect(s.failedFlushes).toBe(0);
    expect(s.repaired).toBeGreaterThanOrEqual(2);
    expect(await raw.hmget(k.window, 'l', 'lx', 'sv', 'st', 'sx')).toEqual([null, null, null, null, null]);
  });

  it('refuses oversized records and messages', async () => {
    const n = namespace();
    const a = await node(n, SECRET);
    const k = breakerKeys(n);
    const now = await serverNow();
    await raw.hset(k.window, 'sv', String(now), 'st', 'x'.repeat(20_000), 'sx', String(now + 60_000));
    a.succeed(1);
    await a.sync.flushNow();
    await raw.publish(k.keys.channel(k.group), 'y'.repeat(20_000));
    const heard = new Promise<void>((resolve) => a.sync.onConfig('sentinel', () => resolve()));
    const other = await node(n, SECRET);
    await other.sync.publishConfig('sentinel', 'k', 1);
    await heard;
    expect(a.sync.stats().refused.oversized).toBe(2);
    await expect(a.sync.publishConfig('limits', 'big', 'z'.repeat(20_000))).rejects.toThrow(
      /the config for "big" is \d+ bytes as JSON; at most 16384/,
    );
  });
});

describe('the probe lease', () => {
  it('treats a lease with no expiry, or one longer than leaseTtlMs, as absent and removes it', async () => {
    for (const lx of [undefined, 'far']) {
      const n = namespace();
      const [a, b] = await openFleet(node, n);
      const k = breakerKeys(n);
      const now = await serverNow();
      await raw.hset(k.window, 'l', 'intruder:0123456789abcdef');
      if (lx !== undefined) await raw.hset(k.window, 'lx', String(now + 3_600_000));
      for (const x of [a, b]) x.clock.advance(5000);
      expect(a.panel.acquire(KEY)).toBe(NO_PERMIT);
      await a.sync.flushNow();
      expect(a.sync.stats().leases).toBe(1);
      expect(a.panel.acquire(KEY)).toBeGreaterThan(PERMIT);
      expect(a.sync.stats().repaired).toBeGreaterThanOrEqual(1);
    }
  });

  it('with a secret, refuses a well-formed lease it cannot verify: the node probes on its own, and the lease is dropped', async () => {
    const n = namespace();
    const [a] = await openFleet(node, n, SECRET);
    const k = breakerKeys(n);
    await raw.hset(
      k.window,
      'l',
      'intruder:0123456789abcdef.AAAAAAAAAAAAAAAAAAAAAA',
      'lx',
      String((await serverNow()) + 1500),
    );
    a.clock.advance(5000);
    expect(a.panel.acquire(KEY)).toBe(NO_PERMIT);
    await a.sync.flushNow();
    expect(a.sync.stats().refused.forged).toBe(1);
    expect(a.panel.acquire(KEY)).toBeGreaterThan(PERMIT); // decides alone, as without a fleet
    await a.sync.flushNow();
    expect(await raw.hget(k.window, 'l')).not.toBe('intruder:0123456789abcdef.AAAAAAAAAAAAAAAAAAAAAA');
  });
});

describe('counts and failing nodes written into the window', () => {
  async function poisoned(_o: SyncNodeOptions) {
    const n = namespace();
    const k = breakerKeys(n);
    const now = await serverNow();
    const e = Math.floor(now / 2000);
    await raw.hset(
      k.window,
      'h',
      packRecord(e, 0, 900_000, 0, 0, 50, 50),
      `b${e % 5}`,
      packRecord(e, 0, 900_000, 0, 0),
    );
    for (let i = 0; i < 50; i++) await raw.zadd(k.failing, now, `fake-${i}`);
    for (let i = 0; i < 50; i++) await raw.zadd(k.reporting, now, `fake-${i}`);
    return n;
  }

  it.each([
    ['without a secret', {}],
    ['with a secret', SECRET],
  ])('never opens a node whose own calls succeed, %s', async (_name, o) => {
    const n = await poisoned(o);
    const a = await node(n, o);
    a.succeed(30);
    await a.sync.flushNow();
    a.fail(1);
    expect(a.panel.breaker(KEY)?.state()).toBe(State.Closed);
  });

  it('with a secret, does not count failing nodes it cannot verify: one sick node opens alone', async () => {
    const n = await poisoned(SECRET);
    const sick = await node(n, SECRET);
    sick.fail(10);
    await sick.sync.flushNow();
    sick.fail(10);
    expect(sick.transitions).toEqual([`${KEY} 2>0 trip`]);
    expect(sick.panel.breaker(KEY)?.fleetView()?.failingNodes).toBe(0);
  });

  it('without a secret, believes the failing nodes it reads: a sick node opens for the fleet (see the trust model)', async () => {
    const n = await poisoned({});
    const sick = await node(n);
    sick.fail(10);
    await sick.sync.flushNow();
    sick.fail(10);
    expect(sick.transitions).toEqual([`${KEY} 2>0 trip fleet`]);
  });

  it('clamps counts beyond what a node can plausibly make, and counts it', async () => {
    const n = namespace();
    const a = await node(n, { maxNodeCallsPerSec: 10 });
    a.succeed(1000);
    await a.sync.flushNow();
    expect(a.sync.stats().clamped).toBe(1);
    const b = await node(n, { maxNodeCallsPerSec: 10 });
    b.succeed(1);
    await b.sync.flushNow();
    expect(b.panel.breaker(KEY)?.fleetView()?.successes).toBe(100);
  });
});

describe('stored states', () => {
  it('drops a stored state dated beyond the skew bound, so it blocks nothing (with or without a secret)', async () => {
    for (const o of [{ quorum: 1 }, { quorum: 1, ...SECRET }]) {
      const n = namespace();
      const k = breakerKeys(n);
      const a = await node(n, o);
      const b = await node(n, o);
      const now = await serverNow();
      const forged = {
        v: 2,
        t: 'state',
        scope: 'svc',
        key: KEY,
        state: 'closed',
        ts: now + 1e9,
        until: now + 2e9,
        openedAt: 0,
        coolingMs: 0,
        attempt: 0,
        node: 'intruder',
      };
      await raw.hset(k.window, 'sv', String(forged.ts), 'st', JSON.stringify(forged), 'sx', String(forged.until));
      b.succeed(1);
      await b.sync.flushNow();
      const heard = b.changed();
      a.fail(20);
      expect(await heard).toBe(`${KEY} 2>0 remote fleet`);
    }
  });

  it('with a secret, refuses an unsigned state, and the writer holds later states back only within the skew bound', async () => {
    const n = namespace();
    const o = { quorum: 1, maxSkewMs: 500, ...SECRET };
    const k = breakerKeys(n);
    const a = await node(n, o);
    const b = await node(n, o);
    b.succeed(1);
    await b.sync.flushNow();
    const now = await serverNow();
    const unsigned = {
      v: 2,
      t: 'state',
      scope: 'svc',
      key: KEY,
      state: 'open',
      ts: now + 400,
      until: now + 60_000,
      openedAt: now,
      coolingMs: 60_000,
      attempt: 0,
      node: 'intruder',
    };
    await raw.hset(k.window, 'sv', String(unsigned.ts), 'st', JSON.stringify(unsigned), 'sx', String(unsigned.until));
    await b.sync.flushNow();
    expect(b.panel.breaker(KEY)?.state()).toBe(State.Closed);
    expect(b.sync.stats().refused.forged).toBe(1);
    const heard = b.changed();
    a.fail(20); // its open cannot be stored until the forged version is past: it is written again then
    expect(await heard).toBe(`${KEY} 2>0 remote fleet`);
    await a.sync.settled();
    const stored = new MessageCodec(Buffer.from('fleet secret'), n).decode(await raw.hget(k.window, 'st'));
    expect(stored).toMatchObject({ state: 'open', node: a.sync.nodeId });
  });

  it('refuses a state dated beyond the skew bound, even signed', async () => {
    const n = namespace();
    const a = await node(n, SECRET);
    a.succeed(1);
    await a.sync.flushNow();
    const codec = new MessageCodec(Buffer.from('fleet secret'), n);
    const now = await serverNow();
    const m = codec.encode({
      v: 2,
      t: 'state',
      scope: 'svc',
      key: KEY,
      state: 'open',
      ts: now + 120_000,
      until: now + 180_000,
      openedAt: now + 120_000,
      coolingMs: 5000,
      attempt: 0,
      node: 'other',
    });
    const k = breakerKeys(n);
    await raw.publish(k.keys.channel(k.group), m);
    const heard = new Promise<void>((resolve) => a.sync.onConfig('sentinel', () => resolve()));
    const other = await node(n, SECRET);
    await other.sync.publishConfig('sentinel', 'k', 1);
    await heard;
    expect(a.sync.stats().refused.future).toBe(1);
    expect(a.panel.breaker(KEY)?.state()).toBe(State.Closed);
  });
});

describe('replays', () => {
  it('refuses an old signed config replayed by pub/sub', async () => {
    const n = namespace();
    const a = await node(n, SECRET);
    const b = await node(n, SECRET);
    const got: unknown[] = [];
    b.sync.onConfig('limits', (_k, v) => got.push(v));
    const k = breakerKeys(n);
    await a.sync.publishConfig('limits', 'x', 1);
    const old = await raw.hget(k.keys.config, 'c\nlimits\nx');
    await a.sync.publishConfig('limits', 'x', 2);
    await raw.publish(k.keys.configChannel, old as string);
    const heard = new Promise<void>((resolve) => b.sync.onConfig('sentinel', () => resolve()));
    await a.sync.publishConfig('sentinel', 'k', 1);
    await heard;
    expect(got).toEqual([1, 2]);
    expect(b.sync.stats().refused.stale).toBe(1);
  });

  it('refuses an old signed OPEN replayed to a node that starts later', async () => {
    const n = namespace();
    const o = { quorum: 1, ...SECRET };
    const [a] = await openFleet(node, n, o);
    const k = breakerKeys(n);
    const open = (await raw.hget(k.window, 'st')) as string;
    a.clock.advance(5000);
    a.panel.acquire(KEY);
    await a.sync.flushNow();
    for (let i = 0; i < 2; i++) {
      a.clock.advance(300);
      a.panel.succeed(KEY, undefined, a.panel.acquire(KEY));
    }
    expect(a.panel.breaker(KEY)?.state()).toBe(State.Closed);
    await a.sync.settled();
    const late = await node(n, o);
    late.succeed(1);
    await late.sync.flushNow();
    // The replay: the open's version is older than the close the late node read from the store.
    await raw.publish(k.keys.channel(k.group), open);
    const heard = new Promise<void>((resolve) => late.sync.onConfig('sentinel', () => resolve()));
    await a.sync.publishConfig('sentinel', 'k', 1);
    await heard;
    expect(late.panel.breaker(KEY)?.state()).toBe(State.Closed);
    expect(late.sync.stats().refused.stale).toBe(1);
  });

  it('refuses a signed OPEN replayed after its validity, even to a node that knows nothing', async () => {
    const n = namespace();
    const codec = new MessageCodec(Buffer.from('fleet secret'), n);
    const now = await serverNow();
    const old = codec.encode({
      v: 2,
      t: 'state',
      scope: 'svc',
      key: KEY,
      state: 'open',
      ts: now - 60_000,
      until: now - 30_000,
      openedAt: now - 60_000,
      coolingMs: 5000,
      attempt: 0,
      node: 'other',
    });
    const late = await node(n, SECRET);
    late.succeed(1);
    await late.sync.flushNow();
    const k = breakerKeys(n);
    await raw.publish(k.keys.channel(k.group), old);
    const heard = new Promise<void>((resolve) => late.sync.onConfig('sentinel', () => resolve()));
    const other = await node(n, SECRET);
    await other.sync.publishConfig('sentinel', 'k', 1);
    await heard;
    expect(late.panel.breaker(KEY)?.state()).toBe(State.Closed);
    expect(late.sync.stats().refused.expired).toBe(1);
  });

  it('refuses forged and unsigned modes with a secret', async () => {
    const n = namespace();
    const a = await node(n, SECRET);
    const k = breakerKeys(n);
    const mode = { v: 2, t: 'mode', scope: 'svc', key: KEY, mode: 'forcedOpen', ver: await serverNow(), node: 'x' };
    await raw.publish(k.keys.configChannel, JSON.stringify(mode));
    await raw.publish(k.keys.configChannel, JSON.stringify({ ...mode, sig: 'AAAA' }));
    const heard = new Promise<void>((resolve) => a.sync.onConfig('sentinel', () => resolve()));
    const other = await node(n, SECRET);
    await other.sync.publishConfig('sentinel', 'k', 1);
    await heard;
    expect(a.sync.stats().refused.forged).toBe(2);
    expect(a.panel.breaker(KEY)).toBeUndefined();
  });
});

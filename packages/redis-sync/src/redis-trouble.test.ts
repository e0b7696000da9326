import { NO_PERMIT, PERMIT, State } from '@cbsuite/core';
import { client, type OwnRedis, startOwnRedis } from '@cbsuite/testkit/redis.js';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { breakerKeys, KEY, openFleet, syncNodes } from './test-support/sync-node.js';

// Redis down at start, killed, restarted empty, paused, stopped: calls never
// wait on it, counts are never counted twice, and the fleet agrees again
// within a second of its return.
let own: OwnRedis;
let ns = 0;
const namespace = () => `cbs-test-trouble-${process.pid}-${++ns}`;
const nodes = syncNodes(() => own.url);
const node = nodes.node;
beforeAll(async () => {
  own = await startOwnRedis();
});
afterEach(async () => {
  if (own.pid > 0) process.kill(own.pid, 'SIGCONT');
  await nodes.cleanup();
});
afterAll(() => own.kill());

describe('when Redis is in trouble', () => {
  it('decides alone while Redis is down at start, keeps counts bounded, and syncs once it is back', async () => {
    await own.kill();
    const a = await node(namespace(), { ready: false, readyTimeoutMs: 300 });
    await expect(a.sync.ready()).rejects.toThrow(/RedisSync cbs-test-trouble-\d+-\d+ not ready after 300 ms/);
    expect(a.sync.stats().connected).toBe(false);
    a.fail(20);
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
    a.succeed(3);
    await a.sync.flushNow();
    expect(a.sync.stats()).toMatchObject({ connected: true, failedFlushes: 0 });
  });

  it('restores the fleet state after Redis restarts empty', async () => {
    const n = namespace();
    const [a, b] = await openFleet(node, n);
    await own.kill();
    await own.start();
    await Promise.all([a.sync.ready(), b.sync.ready()]);
    await a.sync.settled();
    await b.sync.settled();
    const raw = client(own.url);
    nodes.defer(() => raw.disconnect());
    expect(await raw.hexists(breakerKeys(n).window, 'st')).toBe(1);
    const late = await node(n);
    expect(late.panel.breaker(KEY)?.state()).toBe(State.Open);
  });

  it('treats a Redis slower than flushTimeoutMs as gone: the fleet probe falls back to local decisions', async () => {
    const [a] = await openFleet(node, namespace(), { flushTimeoutMs: 200 });
    a.clock.advance(5000);
    expect(a.panel.acquire(KEY)).toBe(NO_PERMIT);
    const admin = client(own.url);
    nodes.defer(() => admin.disconnect());
    await admin.call('CLIENT', 'PAUSE', '1500', 'ALL');
    const started = performance.now();
    await a.sync.flushNow();
    expect(performance.now() - started).toBeLessThan(1000);
    expect(a.sync.stats()).toMatchObject({ connected: false, failedFlushes: 1 });
    // Calls never waited on Redis; now the node probes on its own instead of waiting for the fleet's probe.
    expect(a.panel.acquire(KEY)).toBeGreaterThan(PERMIT);
  });

  it('counts every outcome exactly once across a Redis hang, although flushes time out and are sent again', async () => {
    const n = namespace();
    const a = await node(n, { flushTimeoutMs: 200 });
    const b = await node(n);
    a.succeed(100);
    await a.sync.flushNow();
    process.kill(own.pid, 'SIGSTOP');
    try {
      a.succeed(100);
      await a.sync.flushNow(); // written to the socket, times out
      a.succeed(100);
      await a.sync.flushNow(); // the same batch again, same sequence number; the new counts wait
      expect(a.sync.stats()).toMatchObject({ connected: false, pendingBatches: 1 });
    } finally {
      process.kill(own.pid, 'SIGCONT');
    }
    // Redis wakes up and runs both copies of the batch: the second applies nothing.
    await a.sync.flushNow();
    await a.sync.flushNow();
    expect(a.sync.stats()).toMatchObject({ connected: true, pendingBatches: 0 });
    expect(a.sync.stats().duplicates).toBeGreaterThanOrEqual(1);
    b.succeed(1);
    await b.sync.flushNow();
    expect(b.panel.breaker(KEY)?.fleetView()?.successes).toBe(300);
  });

  it('agrees again within a second of Redis answering after a 7 s outage, whatever the backoff of the client passed in', async () => {
    const n = namespace();
    // A client that waits 5 s between reconnection attempts: the sync does not depend on it.
    const slow = () => {
      const r = new Redis(own.url, { retryStrategy: () => 5000, maxRetriesPerRequest: 1 });
      r.on('error', () => {});
      nodes.defer(() => r.disconnect());
      return r;
    };
    const [a, b] = await openFleet((ns2, o) => node(ns2, { ...o, redis: slow(), syncIntervalMs: 200 }), n, {
      panel: { coolingTimeoutMs: 60_000 },
    });
    await own.kill();
    await new Promise((r) => setTimeout(r, 7000));
    await own.start();
    const answered = Date.now();
    await Promise.all([a.sync.ready(), b.sync.ready()]);
    const raw = client(own.url);
    nodes.defer(() => raw.disconnect());
    // The open is back in the (empty) store, from both nodes.
    while ((await raw.hexists(breakerKeys(n).window, 'st')) === 0 && Date.now() - answered < 2000) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const agreed = Date.now() - answered;
    expect(await raw.hexists(breakerKeys(n).window, 'st')).toBe(1);
    expect(agreed).toBeLessThan(1000);
    expect([a.sync.stats().connected, b.sync.stats().connected]).toEqual([true, true]);
  }, 20_000);
});

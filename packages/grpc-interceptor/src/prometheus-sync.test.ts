import { RedisSync } from '@cbsuite/redis-sync';
import { client, deletePrefix, sharedRedisUrl } from '@cbsuite/testkit/redis.js';
import { Registry } from 'prom-client';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { CBSuite } from './cb-suite.js';
import { RedisSyncMetrics } from './prometheus.js';

const PREFIX = `cbs-test-prom-sync-${process.pid}`;
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(async () => {
  await deletePrefix(sharedRedisUrl(), PREFIX);
});

/** Every `cbsuite_sync_*` sample of the scrape, as `name{labels}` → value. */
async function samples(registry: Registry): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const line of (await registry.metrics()).split('\n')) {
    if (!line.startsWith('cbsuite_sync_')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), line.slice(at + 1) === '+Inf' ? Number.POSITIVE_INFINITY : Number(line.slice(at + 1)));
  }
  return out;
}

describe('RedisSyncMetrics', () => {
  it("exports a RedisSync's stats() as they are: flushes, failed flushes, refusals by reason, lag", async () => {
    const redis = client(sharedRedisUrl());
    // No timer flush during the test: the counters hold still between stats() and the scrape.
    const sync = new RedisSync({ redis, namespace: `${PREFIX}-a`, syncIntervalMs: 60_000 });
    const cbs = new CBSuite(undefined, { sync });
    cleanups.push(
      () => redis.disconnect(),
      () => sync.close(),
      () => cbs.close(),
    );
    await sync.ready();
    const registry = new Registry();
    const metrics = new RedisSyncMetrics({ registry });
    metrics.add(sync, 'checkout');

    const s = sync.stats();
    const got = await samples(registry);
    const L = '{sync="checkout"}';
    expect(s.connected).toBe(true);
    expect(got.get(`cbsuite_sync_connected${L}`)).toBe(1);
    expect(got.get(`cbsuite_sync_flushes_total${L}`)).toBe(s.flushes);
    expect(got.get(`cbsuite_sync_failed_flushes_total${L}`)).toBe(s.failedFlushes);
    expect(got.get(`cbsuite_sync_commands_total${L}`)).toBe(s.commands);
    expect(got.get(`cbsuite_sync_keys${L}`)).toBe(s.keys);
    expect(got.get(`cbsuite_sync_pending_batches${L}`)).toBe(s.pendingBatches);
    for (const [reason, n] of Object.entries(s.refused)) {
      expect(got.get(`cbsuite_sync_refused_messages_total{sync="checkout",reason="${reason}"}`)).toBe(n);
    }
    expect(Object.keys(s.refused).sort()).toEqual([
      'expired',
      'forged',
      'future',
      'garbage',
      'implausible',
      'oversized',
      'stale',
    ]);
    // Lag is read on each scrape: at most what it was plus the time the scrape took, in seconds.
    const lag = got.get(`cbsuite_sync_lag_seconds${L}`) ?? Number.NaN;
    expect(lag).toBeGreaterThanOrEqual(s.lagMs / 1000);
    expect(lag).toBeLessThan(60);

    metrics.remove('checkout');
    expect((await samples(registry)).size).toBe(0);
  });

  it('refuses what has no stats(), and a name twice', () => {
    const metrics = new RedisSyncMetrics({ registry: new Registry() });
    expect(() => metrics.add({} as never, 'x')).toThrow(expect.objectContaining({ option: 'sync' }));
    metrics.add({ stats: () => ({}) as never }, 'x');
    expect(() => metrics.add({ stats: () => ({}) as never }, 'x')).toThrow(
      expect.objectContaining({ option: 'name', value: 'x' }),
    );
    expect(() => new RedisSyncMetrics({ prefix: '1x' })).toThrow(expect.objectContaining({ option: 'prefix' }));
  });
});

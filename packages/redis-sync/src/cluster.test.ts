import { NO_PERMIT, PERMIT, State } from '@cbsuite/core';
import { type OwnCluster, startCluster } from '@cbsuite/testkit/cluster.js';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Keys, slotOf } from './keys.js';
import { KEY, openFleet, syncNodes } from './test-support/sync-node.js';

// A three-master Redis Cluster on loopback: each key group lives in one slot,
// states travel by sharded pub/sub, and the groups spread over the masters.
let cluster: OwnCluster;
let ns = 0;
const namespace = () => `cbs-test-cluster-${process.pid}-${++ns}`;
const nodes = syncNodes(() => '');
const node = (n: string, o: Parameters<typeof nodes.node>[1] = {}) => nodes.node(n, { ...o, redis: cluster.client() });
beforeAll(async () => {
  cluster = await startCluster(3);
}, 60_000);
afterEach(() => nodes.cleanup());
afterAll(() => cluster.stop());

describe('RedisSync on a three-master Redis Cluster', () => {
  it('shares counts and opens the fleet, for keys with braces too, through sharded pub/sub', async () => {
    const n = namespace();
    const a = await node(n);
    const b = await node(n);
    expect((a.sync as unknown as { loop: { conn: { publishCommand: string } } }).loop.conn.publishCommand).toBe(
      'SPUBLISH',
    );
    for (const key of ['k{with}braces', 'plain-key']) {
      a.fail(10, key);
      await a.sync.flushNow();
      b.fail(9, key);
      await b.sync.flushNow();
      expect(b.panel.breaker(key)?.fleetView()).toMatchObject({ failures: 10, failingNodes: 1 });
      const heard = a.changed();
      b.fail(1, key);
      expect(b.panel.breaker(key)?.state()).toBe(State.Open);
      expect(await heard).toBe(`${key} 2>0 remote fleet`);
    }
  });

  it('lets one node probe for the fleet and spreads the close', async () => {
    const [a, b] = await openFleet(node, namespace());
    for (const x of [a, b]) x.clock.advance(5000);
    expect(a.panel.acquire(KEY)).toBe(NO_PERMIT);
    await a.sync.flushNow();
    await b.sync.flushNow();
    expect([a.sync.stats().leases, b.sync.stats().leases]).toEqual([1, 0]);
    const heard = b.changed();
    for (let i = 0; i < 2; i++) {
      a.panel.succeed(KEY, undefined, a.panel.acquire(KEY));
      a.clock.advance(200);
    }
    expect(await heard).toBe(`${KEY} 0>2 remote fleet`);
    expect(b.panel.acquire(KEY)).toBe(PERMIT);
  });

  it('carries configs and forced modes to nodes that join later', async () => {
    const n = namespace();
    const a = await node(n);
    await a.sync.publishConfig('limits', 'x', 3);
    await a.sync.publishMode('svc', 'forced', 'forcedOpen');
    const late = await node(n, { ready: false });
    const got: string[] = [];
    late.sync.onConfig('limits', (k, v) => got.push(`${k}=${v}`));
    await late.sync.ready();
    expect(got).toEqual(['x=3']);
    expect(late.panel.breaker('forced')?.mode()).toBe('forcedOpen');
  });

  it('puts each key group in its own twelfth of the slots: four groups on each of three masters', async () => {
    const keys = new Keys('any-namespace', 12);
    const r = new Redis(cluster.ports[0] as number, '127.0.0.1');
    const slots: number[] = [];
    for (let g = 0; g < 12; g++) {
      const slot = Number(await r.call('CLUSTER', 'KEYSLOT', keys.index(g)));
      expect(slot).toBe(slotOf(keys.index(g).slice(keys.index(g).indexOf('{') + 1, keys.index(g).indexOf('}'))));
      slots.push(slot);
    }
    r.disconnect();
    expect(slots.map((s) => Math.floor(s / (16384 / 12)))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  });

  it('spreads the key groups over the masters', async () => {
    const n = namespace();
    const a = await node(n);
    for (let i = 0; i < 64; i++) a.succeed(1, `svc/pkg.Svc/M${i}`);
    await a.sync.flushNow();
    const perMaster: number[] = [];
    for (const port of cluster.ports) {
      const r = new Redis(port, '127.0.0.1');
      perMaster.push((await r.keys(`${n}:*`)).length);
      r.disconnect();
    }
    expect(perMaster.every((c) => c > 0)).toBe(true);
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Panel, rateTripFunc, State } from '@cbsuite/core';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../core/src/test-support/manual-clock.js';
import { RedisSync } from './redis-sync.js';
import { type OwnRedis, startOwnRedis } from './test-support/redis.js';

// A one-node Redis Cluster that owns every slot: enough to prove the scripts
// keep each breaker's keys in one slot and the sync works through ioredis's
// Cluster client.
describe('RedisSync on Redis Cluster', () => {
  let dir: string;
  let server: OwnRedis;
  const clients: (Redis | Cluster)[] = [];
  const syncs: RedisSync[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cbsuite-cluster-'));
    server = await startOwnRedis([
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      join(dir, 'nodes.conf'),
      // Without it the node announces an empty address, which clients cannot follow.
      '--cluster-announce-ip',
      '127.0.0.1',
    ]);
    const admin = new Redis(server.url);
    await admin.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
    for (let i = 0; i < 100; i++) {
      const info = String(await admin.call('CLUSTER', 'INFO'));
      if (info.includes('cluster_state:ok')) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    admin.disconnect();
  });
  afterAll(async () => {
    for (const s of syncs) await s.close();
    for (const c of clients) c.disconnect();
    await server.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shares counts and opens the fleet through a Cluster client', async () => {
    const nodes = [];
    for (let i = 0; i < 2; i++) {
      const cluster = new Cluster([{ host: '127.0.0.1', port: server.port }]);
      cluster.on('error', () => {});
      clients.push(cluster);
      const clock = new ManualClock(Date.now());
      const sync = new RedisSync({ redis: cluster, namespace: 'cluster-test', syncIntervalMs: 60_000 });
      syncs.push(sync);
      const opened: string[] = [];
      const panel = new Panel({ now: clock.now, shouldTrip: rateTripFunc(0.5, 10) }, (_k, _f, to, _m, info) =>
        opened.push(`${to}${info.fleet ? ' fleet' : ''}`),
      );
      sync.attach(panel, 'svc');
      await sync.ready();
      nodes.push({ panel, sync, opened });
    }
    const [a, b] = nodes as [(typeof nodes)[number], (typeof nodes)[number]];
    for (let i = 0; i < 5; i++) a.panel.fail('k{with}braces');
    for (let i = 0; i < 5; i++) a.panel.fail('plain-key');
    await a.sync.flushNow();
    for (let i = 0; i < 4; i++) b.panel.fail('k{with}braces');
    await b.sync.flushNow();
    expect(b.panel.breaker('k{with}braces')?.link?.view).toMatchObject({ failures: 5, failingNodes: 1 });
    b.panel.fail('k{with}braces');
    expect(b.panel.breaker('k{with}braces')?.state()).toBe(State.Open);
    await b.sync.settled();
    for (let i = 0; i < 50 && a.opened.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(a.opened).toEqual([`${State.Open} fleet`]);
  });
});

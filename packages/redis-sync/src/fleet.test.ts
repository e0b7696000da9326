import { type OwnCluster, startCluster } from '@cbsuite/testkit/cluster.js';
import { type EchoServer, grpc, startEchoServer } from '@cbsuite/testkit/echo.js';
import { type Fleet, latest, startFleet } from '@cbsuite/testkit/fleet.js';
import type { NodeConfig } from '@cbsuite/testkit/fleet-node.js';
import { deletePrefix, type OwnRedis, sharedRedisUrl, startOwnRedis } from '@cbsuite/testkit/redis.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

// Fleets of real client processes on one Redis, and on a three-master Redis
// Cluster, calling one downstream service that the test breaks and mends.
const PREFIX = `cbs-test-fleet-${process.pid}`;
let ns = 0;
let downstream: EchoServer;
let fleet: Fleet | undefined;
let cluster: OwnCluster;

beforeAll(async () => {
  downstream = await startEchoServer();
  cluster = await startCluster(3);
}, 60_000);
afterEach(async () => {
  await fleet?.close();
  fleet = undefined;
  downstream.setBehavior(() => undefined);
});
afterAll(async () => {
  await downstream.close();
  await cluster.stop();
  await deletePrefix(sharedRedisUrl(), PREFIX);
});

type Backend = Pick<NodeConfig, 'redisUrl' | 'clusterPorts'>;
const backends: [string, () => Backend][] = [
  ['Redis', () => ({ redisUrl: sharedRedisUrl() })],
  ['a Redis Cluster', () => ({ redisUrl: '', clusterPorts: cluster.ports })],
];

function config(backend: Backend, over: Partial<Omit<NodeConfig, 'index'>> = {}): Omit<NodeConfig, 'index'> {
  return {
    ...backend,
    namespace: `${PREFIX}-${++ns}`,
    target: downstream.address,
    synced: true,
    minSample: 60,
    quorum: 2,
    syncIntervalMs: 100,
    coolingTimeoutMs: 60_000,
    detectTimeoutMs: 200,
    halfOpenSuccesses: 2,
    ...over,
  };
}

/** Counts the failing calls the downstream sends back from now on. */
function failEverything(): { failures: () => number } {
  let failures = 0;
  downstream.setBehavior(() => {
    failures++;
    return { code: grpc.status.UNAVAILABLE };
  });
  return { failures: () => failures };
}

describe.each(backends)('a fleet of client processes on %s', (_name, backend) => {
  it('opens every node after about minSample failing calls in all, not one minSample per node', async () => {
    fleet = await startFleet(4, config(backend()));
    const f = fleet;
    const down = failEverything();
    f.load(40, 15_000);
    await f.until((s) => latest(s, 4).every((x) => x === 'OPEN'), 15_000, 'every node open');
    f.stopLoad();
    const sentFailing = down.failures();
    const opens = f.states.filter((s) => s.to === 'OPEN');
    expect(opens.every((s) => s.fleet)).toBe(true);
    expect(opens.filter((s) => s.cause === 'trip').length).toBeGreaterThanOrEqual(1);
    // Local-only, each node would need minSample failures of its own: 4 × 60 = 240.
    expect(sentFailing).toBeGreaterThanOrEqual(60);
    expect(sentFailing).toBeLessThan(2 * 60);
    const spread = Math.max(...opens.map((s) => s.time)) - Math.min(...opens.map((s) => s.time));
    expect(spread).toBeLessThan(1000);
  });

  it('opens a warm fleet as one in a symmetric outage (default quorum), probes once per detect interval, and closes every node within 2 s of the heal', async () => {
    fleet = await startFleet(
      4,
      config(backend(), { minSample: 100, coolingTimeoutMs: 1000, detectTimeoutMs: 300, halfOpenSuccesses: 2 }),
    );
    const f = fleet;
    f.load(150, 30_000);
    await new Promise((r) => setTimeout(r, 3000)); // warm: every window full of successes
    failEverything();
    await f.until((s) => latest(s, 4).every((x) => x === 'OPEN'), 15_000, 'every node open');
    const opens = f.states.filter((s) => s.to === 'OPEN');
    expect(opens.map((s) => s.fleet)).toEqual([true, true, true, true]);
    const hits: number[] = [];
    downstream.setBehavior(() => {
      hits.push(Date.now());
      return undefined;
    });
    const healed = Date.now();
    await f.until((s) => latest(s, 4).every((x) => x === 'CLOSED'), 5000, 'every node closed');
    const closes = f.states.filter((s) => s.to === 'CLOSED');
    const firstClose = Math.min(...closes.map((s) => s.time));
    f.stopLoad();
    expect(Math.max(...closes.map((s) => s.time)) - healed).toBeLessThan(2000);
    // Calls sent just before the last node opened may still land in the first few ms: not probes.
    const probes = hits.filter((t) => t >= healed + 100 && t <= firstClose);
    expect(probes.length).toBe(2);
    expect((probes[1] as number) - (probes[0] as number)).toBeGreaterThanOrEqual(250);
    expect(new Set(f.states.filter((s) => s.to === 'HALFOPEN').map((s) => s.index)).size).toBe(1);
  });

  it('lets one sick node open alone while the others, succeeding, stay closed (quorum 2)', async () => {
    fleet = await startFleet(4, config(backend(), { minSample: 30 }));
    const f = fleet;
    downstream.setBehavior((_m, text) => (text.startsWith('n0:') ? { code: grpc.status.UNAVAILABLE } : undefined));
    f.load(40, 4000);
    await f.until((s) => latest(s, 4)[0] === 'OPEN', 8000, 'node 0 open');
    // The others keep calling for another second and a half and stay closed.
    await new Promise((r) => setTimeout(r, 1500));
    f.stopLoad();
    expect(latest(f.states, 4)).toEqual(['OPEN', 'CLOSED', 'CLOSED', 'CLOSED']);
    expect(f.states.filter((s) => s.index === 0)).toMatchObject([{ to: 'OPEN', fleet: false, cause: 'trip' }]);
    const stats = await f.stats();
    expect(stats.slice(1).every((s) => s.failed === 0 && s.rejected === 0)).toBe(true);
    // Every node closes its sync and exits on its own.
    expect(await f.close()).toBe(0);
    fleet = undefined;
  });
});

describe('a fleet when Redis fails', () => {
  let own: OwnRedis;
  beforeAll(async () => {
    own = await startOwnRedis();
  });
  afterAll(async () => {
    await own.kill();
  });

  it('loses no call when Redis is killed under load and restarted empty, and agrees again after', async () => {
    fleet = await startFleet(4, config({ redisUrl: own.url }, { minSample: 40 }));
    const f = fleet;
    f.load(40, 20_000);
    await new Promise((r) => setTimeout(r, 700));
    await own.kill();
    await new Promise((r) => setTimeout(r, 1500));
    const during = await f.stats();
    expect(during.every((s) => !s.connected)).toBe(true);
    await own.start();
    await new Promise((r) => setTimeout(r, 1000));
    const after = await f.stats();
    expect(after.every((s) => s.connected)).toBe(true);
    expect(after.map((s) => [s.failed, s.rejected])).toEqual([
      [0, 0],
      [0, 0],
      [0, 0],
      [0, 0],
    ]);
    expect(after.every((s) => s.sent > 60)).toBe(true);
    // Agreement after the restart: the downstream fails and the fleet opens together again.
    failEverything();
    await f.until((s) => latest(s, 4).every((x) => x === 'OPEN'), 8000, 'every node open after the restart');
    const opens = f.states.filter((s) => s.to === 'OPEN');
    expect(opens.every((s) => s.fleet)).toBe(true);
    expect(Math.max(...opens.map((s) => s.time)) - Math.min(...opens.map((s) => s.time))).toBeLessThan(1000);
    f.stopLoad();
  });
});

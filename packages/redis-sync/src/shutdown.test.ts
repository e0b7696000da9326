import { fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { CBSuite } from '@cbsuite/grpc-interceptor';
import { client, deletePrefix, sharedRedisUrl } from '@cbsuite/testkit/redis.js';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { RedisSync } from './redis-sync.js';
import { KEY, breakerKeys as keysOf, openFleet, syncNodes } from './test-support/sync-node.js';

// Closing the suite and the sync, in either order: no recorded outcome is
// lost, every lease is released, every connection the sync opened is closed,
// and the process exits on its own.
const PREFIX = `cbs-test-shutdown-${process.pid}`;
let ns = 0;
const namespace = () => `${PREFIX}-${++ns}`;
const nodes = syncNodes(sharedRedisUrl);
afterEach(() => nodes.cleanup());
afterAll(() => deletePrefix(sharedRedisUrl(), PREFIX));
const EXIT_NODE = fileURLToPath(new URL('../../testkit/src/exit-node.ts', import.meta.url));

/** Successes the fleet window of `key` (service scope) holds, as another node reads it. */
async function fleetSuccesses(n: string, key: string): Promise<number> {
  const reader = await nodes.node(n, { scope: 'service' });
  reader.succeed(1, key);
  await reader.sync.flushNow();
  return reader.panel.breaker(key)?.fleetView()?.successes ?? 0;
}

describe('shutdown', () => {
  it.each(['suite-first', 'sync-first'])('loses no outcome and releases its leases when closing %s', async (order) => {
    const n = namespace();
    const redis = client(sharedRedisUrl());
    nodes.defer(() => redis.disconnect());
    const sync = new RedisSync({ redis, namespace: n, syncIntervalMs: 60_000 });
    const cbs = new CBSuite(undefined, { fromService: 'a', sync });
    await sync.ready();
    for (let i = 0; i < 700; i++) cbs.servicePanel.succeed('a/pkg.Svc/M');
    if (order === 'suite-first') {
      cbs.close();
      await sync.close();
    } else {
      await sync.close();
      cbs.close();
    }
    expect(await fleetSuccesses(n, 'a/pkg.Svc/M')).toBe(700);
    expect(redis.status).toBe('ready'); // the client passed in stays the caller's
  });

  it('releases the lease and clears its failing entry when the panel closes first', async () => {
    const n = namespace();
    const [a] = await openFleet(nodes.node, n);
    a.clock.advance(5000);
    a.panel.acquire(KEY);
    await a.sync.flushNow();
    expect(a.sync.stats().leases).toBe(1);
    const k = keysOf(n);
    expect(await a.redis.hexists(k.window, 'l')).toBe(1);
    a.panel.close();
    await a.sync.settled();
    expect(await a.redis.hexists(k.window, 'l')).toBe(0);
    expect(await a.redis.zscore(k.failing, a.sync.nodeId)).toBeNull();
    await a.sync.close();
  });

  it.each(['suite-first', 'sync-first', 'no-sync-close'])(
    'lets the process exit on its own (%s), with every outcome sent',
    async (order) => {
      const n = namespace();
      const child = fork(EXIT_NODE, [sharedRedisUrl(), n, order], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
      const [msg] = (await once(child, 'message')) as [string];
      expect(msg).toBe('done');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
      clearTimeout(timer);
      expect([code, signal]).toEqual([0, null]);
      expect(await fleetSuccesses(n, 'exit/pkg.Svc/M')).toBe(700);
    },
  );
});

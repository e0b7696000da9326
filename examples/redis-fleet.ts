// Three replicas of a client share their service breakers through Redis. Each
// replica alone sees too few failures to trip, but the fleet's window adds
// them up: one replica trips, and the others open at once.
//
// Needs Redis: REDIS_URL, or redis://127.0.0.1:6379.
// Run from the repository root: npx tsx examples/redis-fleet.ts
import { CBSuite, isCircuitBreakError } from '@cbsuite/grpc-interceptor';
import { RedisSync } from '@cbsuite/redis-sync';
import { EchoClient, say, startEchoServer } from '@cbsuite/testkit/echo.js';
import * as grpc from '@grpc/grpc-js';
import { Redis } from 'ioredis';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const admin = new Redis(url, { lazyConnect: true, retryStrategy: () => null });
admin.on('error', () => {});
try {
  await admin.connect();
} catch {
  console.error(`No Redis answers at ${url}, and this example needs one. Start one on 127.0.0.1:6379`);
  console.error('(docker run -p 6379:6379 redis:7, or apt-get install redis-server), or set REDIS_URL.');
  process.exit(1);
}

const server = await startEchoServer(() => ({ code: grpc.status.UNAVAILABLE, details: 'down' }));
// One namespace per run, so that runs never see each other's breakers.
const namespace = `cbsuite-example-${process.pid}-${Date.now()}`;
const events: string[] = [];

async function startReplica(name: string) {
  const redis = new Redis(url);
  // syncIntervalMs is 200 by default. Here the replicas sync when told (flushNow), so each run prints the same.
  const sync = new RedisSync({ redis, namespace, syncIntervalMs: 60_000 });
  const cbs = new CBSuite(undefined, { fromService: 'checkout', defaultServiceCBConfig: { minSample: 10 }, sync });
  const client = new EchoClient(server.address, grpc.credentials.createInsecure(), {
    interceptors: [cbs.interceptor()],
  });
  const opened = new Promise<void>((resolve) =>
    cbs.onStateChange((e) => {
      events.push(`  replica ${name}: ${e.fromName} -> ${e.toName}, cause ${e.cause}, fleet: ${e.fleet}`);
      if (e.toName === 'OPEN') resolve();
    }),
  );
  await sync.ready();
  return { name, redis, sync, cbs, client, opened };
}
const replicas = [await startReplica('a'), await startReplica('b'), await startReplica('c')];

// A fleet-wide open also needs failures from 2 replicas or more (RedisSync's
// `quorum`): a replica that alone sees failures opens only its own breaker.
console.log('The server fails every call. Each replica makes 3 calls: 9 failures in all, below minSample 10.');
for (const r of replicas) for (let i = 0; i < 3; i++) await say(r.client, 'x');
// Each flush sends a replica's counts to Redis and brings back the rest of the fleet's.
for (const r of replicas) await r.sync.flushNow();
const c = replicas[2]!;
const own = c.cbs.servicePanel.getMetricer(c.cbs.serviceKey('/echo.v1.Echo/Say')).failures();
console.log(`Replica c has ${own} failures of its own and, from its flush, the other replicas' 6.`);
console.log('Its next failure makes 10 in the fleet window: c trips, and Redis tells the others.');
await say(c.client, 'x');
await Promise.all(replicas.map((r) => r.opened));
console.log('State changes (cause trip: decided here; cause remote: applied from the fleet):');
for (const line of events.sort()) console.log(line);

let rejected = 0;
for (const r of replicas) if (isCircuitBreakError((await say(r.client, 'x')).error)) rejected++;
console.log(`One more call on each replica: ${rejected} of 3 rejected. The server saw ${server.hits.Say} calls.`);

for (const r of replicas) {
  r.client.close();
  r.cbs.close();
  await r.sync.close();
  await r.redis.quit();
}
await server.close();
// Delete this run's keys.
let cursor = '0';
do {
  const [next, keys] = await admin.scan(cursor, 'MATCH', `${namespace}:*`, 'COUNT', 100);
  if (keys.length > 0) await admin.del(...keys);
  cursor = next;
} while (cursor !== '0');
await admin.quit();

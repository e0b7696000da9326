// A process that uses a RedisSync and shuts down in the order argv says,
// then returns from its script without calling process.exit: the test checks
// that it exits on its own.
//   argv: redisUrl namespace order (suite-first | sync-first | no-sync-close)
import { CBSuite } from '@cbsuite/grpc-interceptor';
import { RedisSync } from '@cbsuite/redis-sync';
import { Redis } from 'ioredis';

const [url, namespace, order] = process.argv.slice(2) as [string, string, string];
const redis = new Redis(url);
const sync = new RedisSync({ redis, namespace, syncIntervalMs: 50 });
const cbs = new CBSuite(undefined, { fromService: 'exit', sync });
await sync.ready();
for (let i = 0; i < 700; i++) cbs.servicePanel.succeed('exit/pkg.Svc/M');
if (order === 'suite-first') {
  cbs.close();
  await sync.close();
} else if (order === 'sync-first') {
  await sync.close();
  cbs.close();
} else {
  await sync.flushNow();
  cbs.close();
}
redis.disconnect();
process.send?.('done');

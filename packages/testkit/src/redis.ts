// Redis for the tests: the shared one (from the global setup), clients of
// it, and servers of a test's own on free ports, for tests that stop, kill or
// restart Redis (from redis-server.ts, which the demo shares).
import { Redis, type RedisOptions } from 'ioredis';
import { inject } from 'vitest';

export { deletePrefix, type OwnRedis, startOwnRedis } from './redis-server.js';

/** The shared Redis (never stopped by a test). */
export function sharedRedisUrl(): string {
  return inject('redisUrl');
}

/** A client of `url` that gives up quickly on commands when Redis is gone, as a service would configure it. */
export function client(url: string, extra: RedisOptions = {}): Redis {
  const r = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: () => 50, lazyConnect: false, ...extra });
  r.on('error', () => {});
  return r;
}

// Runs once before the tests: makes sure a Redis answers and tells the tests
// where (`inject('redisUrl')`). Uses REDIS_URL, else 127.0.0.1:6379, else
// starts a redis-server of its own on a free port; with neither, it fails and
// says how to get one. It never skips the Redis tests.
import type { TestProject } from 'vitest/node';
import { findRedis } from '../packages/testkit/src/redis-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const redis = await findRedis({ url: process.env.REDIS_URL, needs: { who: 'the tests', command: 'pnpm test' } });
  project.provide('redisUrl', redis.url);
  return () => redis.stop();
}

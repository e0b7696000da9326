import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { freePort } from './ports.js';
import { deletePrefix, findRedis, NoRedisError } from './redis-server.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function answers(url: string): Promise<boolean> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return (await r.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

describe('findRedis', () => {
  it('takes REDIS_URL when it answers, and refuses it when it does not', async () => {
    const url = inject('redisUrl');
    expect(await findRedis({ url })).toMatchObject({ url, origin: 'REDIS_URL', own: false });
    const dead = `redis://127.0.0.1:${await freePort()}`;
    await expect(findRedis({ url: dead })).rejects.toThrow(
      new RegExp(`^REDIS_URL is ${dead}, but no Redis answers there \\(.*ECONNREFUSED`),
    );
  });

  it('takes the local Redis when it answers', async () => {
    const url = inject('redisUrl');
    expect(await findRedis({ localUrl: url })).toMatchObject({ url, origin: 'the local Redis', own: false });
  });

  it('starts a redis-server of its own when nothing answers, and stops it', async () => {
    const redis = await findRedis({ localUrl: `redis://127.0.0.1:${await freePort()}` });
    cleanups.push(() => redis.stop());
    expect(redis.own).toBe(true);
    expect(redis.origin).toMatch(/^a redis-server of its own on port \d+$/);
    expect(await answers(redis.url)).toBe(true);
    await redis.stop();
    expect(await answers(redis.url)).toBe(false);
  });

  it('says how to get a Redis when there is none and no redis-server to start', async () => {
    const local = `redis://127.0.0.1:${await freePort()}`;
    const failed = findRedis({
      localUrl: local,
      serverCommand: 'cbsuite-demo-no-such-redis-server',
      needs: { who: 'fleet mode', command: 'pnpm demo:fleet' },
    });
    await expect(failed).rejects.toBeInstanceOf(NoRedisError);
    await expect(failed).rejects.toThrow(
      `fleet mode needs Redis: nothing answers at ${local}, and cbsuite-demo-no-such-redis-server is not on PATH. ` +
        'Install redis-server (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis), start one ' +
        'on 127.0.0.1:6379, or set REDIS_URL (for example REDIS_URL=redis://host:6379 pnpm demo:fleet).',
    );
  });
});

describe('deletePrefix', () => {
  it('deletes every key of a namespace and nothing else', async () => {
    const url = inject('redisUrl');
    const ns = `cbsuite-demo-test-${process.pid}-${Date.now()}`;
    const r = new Redis(url);
    cleanups.push(() => r.disconnect());
    cleanups.push(() => r.del(`${ns}-other:k`));
    await r.set(`${ns}:{service:a}:s`, '1');
    await r.hset(`${ns}:config`, 'f', 'v');
    await r.zadd(`${ns}:index`, 1, 'm');
    await r.set(`${ns}-other:k`, '1');
    expect(await deletePrefix(url, `${ns}:`)).toBe(3);
    expect(await r.keys(`${ns}:*`)).toEqual([]);
    expect(await r.exists(`${ns}-other:k`)).toBe(1);
  });
});

// Redis for the tests: the shared one (from the global setup), and servers of
// a test's own on free ports, for tests that stop, kill or restart Redis.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { Redis, type RedisOptions } from 'ioredis';
import { inject } from 'vitest';
import { freePort, pingRedis } from './ports.js';

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

/** Deletes every key under `prefix` on `url`. */
export async function deletePrefix(url: string, prefix: string): Promise<void> {
  const r = new Redis(url);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await r.del(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}

export interface OwnRedis {
  readonly port: number;
  readonly url: string;
  /** The server's process id (changes when it starts again). */
  readonly pid: number;
  /** SIGKILL: gone at once, with everything it held. */
  kill(): Promise<void>;
  /** Starts again on the same port, empty. */
  start(): Promise<void>;
}

/** A redis-server of the test's own on a free port (no persistence). */
export async function startOwnRedis(extraArgs: string[] = []): Promise<OwnRedis> {
  const port = await freePort();
  let proc: ChildProcess | undefined;
  const start = async () => {
    proc = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extraArgs],
      { stdio: 'ignore' },
    );
    for (let i = 0; i < 200; i++) {
      if (await pingRedis('127.0.0.1', port)) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`redis-server on port ${port} did not start`);
  };
  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get pid() {
      return proc?.pid ?? -1;
    },
    kill: async () => {
      const p = proc;
      if (p === undefined || p.exitCode !== null || p.signalCode !== null) return;
      const exited = once(p, 'exit');
      p.kill('SIGKILL');
      await exited;
    },
    start,
  };
}

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

const LOCAL_URL = 'redis://127.0.0.1:6379';
const START_TIMEOUT_MS = 5000;

/** The Redis a fleet run uses. */
export interface DemoRedis {
  readonly url: string;
  /** Where it comes from, in a few words. */
  readonly origin: string;
  /** Whether the demo started it (and `stop()` stops it). */
  readonly own: boolean;
  /** Stops the redis-server the demo started, if it did. */
  stop(): Promise<void>;
}

/** Where to look for a Redis; the defaults are what `pnpm demo:fleet` uses. */
export interface FindRedisOptions {
  /** `REDIS_URL`: used when set, and must answer. */
  readonly url?: string | undefined;
  /** Tried next. Default redis://127.0.0.1:6379. */
  readonly localUrl?: string;
  /** Started on a free port when nothing answers there. Default `redis-server`. */
  readonly serverCommand?: string;
}

/** Why no Redis could be had, and how to get one. */
export class NoRedisError extends Error {
  override readonly name = 'NoRedisError';
}

/**
 * A Redis for the fleet: `url` (REDIS_URL) if set, else the local one if it
 * answers PING, else a `redis-server` of the demo's own on a free port, with
 * no persistence, stopped by `stop()`. Fails with a {@link NoRedisError}
 * saying how to get one.
 */
export async function findRedis(o: FindRedisOptions = {}): Promise<DemoRedis> {
  const none = async () => undefined;
  if (o.url !== undefined && o.url !== '') {
    const why = await ping(o.url);
    if (why !== undefined) throw new NoRedisError(`REDIS_URL is ${o.url}, but no Redis answers there (${why})`);
    return { url: o.url, origin: 'REDIS_URL', own: false, stop: none };
  }
  const local = o.localUrl ?? LOCAL_URL;
  if ((await ping(local)) === undefined) return { url: local, origin: 'the local Redis', own: false, stop: none };
  return startServer(o.serverCommand ?? 'redis-server', local);
}

/** Deletes every key of the namespace (`<namespace>:*`); returns how many there were. */
export async function deleteNamespace(url: string, namespace: string): Promise<number> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  r.on('error', () => undefined);
  let deleted = 0;
  try {
    await r.connect();
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${namespace}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await r.del(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
  return deleted;
}

/** undefined when a Redis answers PING at `url`, else why not. */
async function ping(url: string): Promise<string | undefined> {
  const r = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 1000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  // The connection's own error (ECONNREFUSED, ...) says more than the rejected connect().
  let cause: unknown;
  r.on('error', (err: unknown) => {
    cause ??= err;
  });
  try {
    await r.connect();
    const pong = await r.ping();
    return pong === 'PONG' ? undefined : `PING answered ${JSON.stringify(pong)}`;
  } catch (err) {
    const e = cause ?? err;
    return e instanceof Error ? e.message : String(e);
  } finally {
    r.disconnect();
  }
}

async function startServer(command: string, local: string): Promise<DemoRedis> {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  // Its own process group: Ctrl-C in the terminal stops the demo, which stops this server last.
  const child = spawn(command, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
    detached: true,
  });
  const stop = () => stopChild(child);
  const failed = new Promise<string>((resolve) => {
    child.once('error', (err: NodeJS.ErrnoException) =>
      resolve(err.code === 'ENOENT' ? `${command} is not on PATH` : `${command} failed: ${err.message}`),
    );
    child.once('exit', (code, signal) => resolve(`${command} exited (${signal ?? code})`));
  });
  const until = Date.now() + START_TIMEOUT_MS;
  let why: string | undefined = 'not started';
  while (why !== undefined && Date.now() < until) {
    const early = await Promise.race([failed, new Promise<undefined>((r) => setTimeout(() => r(undefined), 50))]);
    if (early !== undefined) {
      throw new NoRedisError(
        `fleet mode needs Redis: nothing answers at ${local}, and ${early}. Install redis-server ` +
          '(Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis), start one on 127.0.0.1:6379, ' +
          'or set REDIS_URL (for example REDIS_URL=redis://host:6379 pnpm demo:fleet).',
      );
    }
    why = await ping(url);
  }
  if (why !== undefined) {
    await stop();
    throw new NoRedisError(`the redis-server started on port ${port} does not answer (${why}); set REDIS_URL instead`);
  }
  return { url, origin: `a ${command} of its own on port ${port}`, own: true, stop };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

/** A loopback port nothing listens on (it was free a moment ago). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

// Redis servers to run against, with no test runner involved (the demo uses
// them too): a redis-server of one's own on a free port, a Redis found where
// one is expected, and the deletion of a run's keys.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { Redis } from 'ioredis';
import { freePort, pingRedis } from './ports.js';

const LOCAL_URL = 'redis://127.0.0.1:6379';
const START_TIMEOUT_MS = 5000;

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

export interface OwnRedisOptions {
  /** Default `redis-server`. */
  readonly command?: string;
  /** In a process group of its own, so that Ctrl-C in the terminal leaves it to its owner to stop. */
  readonly detached?: boolean;
}

/**
 * A redis-server of one's own on a free port (no persistence). Fails with
 * the reason when it cannot start: not on PATH, exited, or silent for 5 s.
 */
export async function startOwnRedis(extraArgs: string[] = [], o: OwnRedisOptions = {}): Promise<OwnRedis> {
  const command = o.command ?? 'redis-server';
  const port = await freePort();
  let proc: ChildProcess | undefined;
  const start = async () => {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extraArgs];
    const p = spawn(command, args, { stdio: 'ignore', detached: o.detached === true });
    proc = p;
    const failed = new Promise<string>((resolve) => {
      p.once('error', (err: NodeJS.ErrnoException) =>
        resolve(err.code === 'ENOENT' ? `${command} is not on PATH` : `${command} failed: ${err.message}`),
      );
      p.once('exit', (code, signal) => resolve(`${command} exited (${signal ?? code})`));
    });
    const until = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < until) {
      const early = await Promise.race([failed, new Promise<undefined>((r) => setTimeout(() => r(undefined), 25))]);
      if (early !== undefined) throw new Error(early);
      if (await pingRedis('127.0.0.1', port)) return;
    }
    await kill();
    throw new Error(`the ${command} started on port ${port} does not answer`);
  };
  const kill = async () => {
    const p = proc;
    if (p === undefined || p.pid === undefined || p.exitCode !== null || p.signalCode !== null) return;
    const exited = once(p, 'exit');
    p.kill('SIGKILL');
    await exited;
  };
  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get pid() {
      return proc?.pid ?? -1;
    },
    kill,
    start,
  };
}

/** A Redis found by {@link findRedis}. */
export interface FoundRedis {
  readonly url: string;
  /** Where it comes from, in a few words. */
  readonly origin: string;
  /** Whether it was started here (and `stop()` stops it). */
  readonly own: boolean;
  /** Stops the redis-server started here, if one was. */
  stop(): Promise<void>;
}

/** Where to look for a Redis, and who to name when there is none. */
export interface FindRedisOptions {
  /** `REDIS_URL`: used when set, and must answer. */
  readonly url?: string | undefined;
  /** Tried next. Default redis://127.0.0.1:6379. */
  readonly localUrl?: string;
  /** Started on a free port when nothing answers there. Default `redis-server`. */
  readonly serverCommand?: string;
  /** For the error: who needs Redis, and the command to prefix with REDIS_URL. */
  readonly needs?: { readonly who: string; readonly command: string };
}

/** Why no Redis could be had, and how to get one. */
export class NoRedisError extends Error {
  override readonly name = 'NoRedisError';
}

/**
 * A Redis: `url` (REDIS_URL) if set, else the local one if it answers PING,
 * else a redis-server of its own on a free port, in its own process group,
 * stopped by `stop()`. Fails with a {@link NoRedisError} saying how to get one.
 */
export async function findRedis(o: FindRedisOptions = {}): Promise<FoundRedis> {
  const none = async () => undefined;
  if (o.url !== undefined && o.url !== '') {
    const why = await ping(o.url);
    if (why !== undefined) throw new NoRedisError(`REDIS_URL is ${o.url}, but no Redis answers there (${why})`);
    return { url: o.url, origin: 'REDIS_URL', own: false, stop: none };
  }
  const local = o.localUrl ?? LOCAL_URL;
  if ((await ping(local)) === undefined) return { url: local, origin: 'the local Redis', own: false, stop: none };
  const command = o.serverCommand ?? 'redis-server';
  const { who, command: run } = o.needs ?? { who: 'the run', command: 'pnpm test' };
  const own = await startOwnRedis([], { command, detached: true }).catch((err: unknown) => {
    throw new NoRedisError(
      `${who} needs Redis: nothing answers at ${local}, and ${err instanceof Error ? err.message : String(err)}. ` +
        'Install redis-server (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis), start one ' +
        `on 127.0.0.1:6379, or set REDIS_URL (for example REDIS_URL=redis://host:6379 ${run}).`,
    );
  });
  return { url: own.url, origin: `a ${command} of its own on port ${own.port}`, own: true, stop: own.kill };
}

/** Deletes every key under `prefix` on `url`; returns how many there were. */
export async function deletePrefix(url: string, prefix: string): Promise<number> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  r.on('error', () => undefined);
  let deleted = 0;
  try {
    await r.connect();
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
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

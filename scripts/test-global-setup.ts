// Runs once before the tests: makes sure a Redis answers and tells the tests
// where (`inject('redisUrl')`). Uses REDIS_URL, else 127.0.0.1:6379, else
// starts a redis-server of its own on a free port; with neither, it fails and
// says how to get one. It never skips the Redis tests.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import type { TestProject } from 'vitest/node';
import { freePort, pingRedis } from '../packages/testkit/src/ports.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

let own: ChildProcess | undefined;

export default async function setup(project: TestProject): Promise<() => void> {
  const url = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  if (await pingRedis(url.hostname, Number(url.port || 6379))) {
    project.provide('redisUrl', url.toString());
    return () => {};
  }
  if (spawnSync('redis-server', ['--version']).status !== 0) {
    throw new Error(
      `The tests need Redis 7: nothing answers at ${url.host} and redis-server is not on PATH. ` +
        'Install it (Debian: apt-get install redis-server), start one on 127.0.0.1:6379, or set REDIS_URL.',
    );
  }
  const port = await freePort();
  own = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  for (let i = 0; i < 100 && !(await pingRedis('127.0.0.1', port)); i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!(await pingRedis('127.0.0.1', port)))
    throw new Error(`redis-server started on port ${port} but does not answer`);
  project.provide('redisUrl', `redis://127.0.0.1:${port}`);
  return () => {
    own?.kill('SIGKILL');
  };
}

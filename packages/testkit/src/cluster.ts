// A Redis Cluster of the test's own: three masters on free loopback ports,
// started with `redis-server --cluster-enabled yes` and joined with
// `redis-cli --cluster create`, stopped by PID.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Cluster, type ClusterOptions } from 'ioredis';
import { freePort, pingRedis } from './ports.js';

const run = promisify(execFile);

export interface OwnCluster {
  readonly ports: readonly number[];
  /** A Cluster client of the test's (errors swallowed). */
  client(extra?: ClusterOptions): Cluster;
  stop(): Promise<void>;
}

export async function startCluster(masters = 3): Promise<OwnCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'cbsuite-cluster-'));
  const ports: number[] = [];
  const procs: ChildProcess[] = [];
  for (let i = 0; i < masters; i++) {
    const port = await freePort();
    ports.push(port);
    procs.push(
      spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--save',
          '',
          '--appendonly',
          'no',
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          join(dir, `nodes-${port}.conf`),
          '--cluster-announce-ip',
          '127.0.0.1',
          '--dir',
          dir,
        ],
        { stdio: 'ignore' },
      ),
    );
  }
  for (const port of ports) {
    for (let i = 0; i < 200 && !(await pingRedis('127.0.0.1', port)); i++) await new Promise((r) => setTimeout(r, 25));
  }
  await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-yes']);
  const clients: Cluster[] = [];
  const client = (extra: ClusterOptions = {}) => {
    const c = new Cluster(
      ports.map((port) => ({ host: '127.0.0.1', port })),
      { ...extra },
    );
    c.on('error', () => {});
    clients.push(c);
    return c;
  };
  // Wait until every master agrees the cluster is up.
  for (const port of ports) {
    for (let i = 0; i < 200; i++) {
      const { stdout } = await run('redis-cli', ['-p', String(port), 'cluster', 'info']);
      if (stdout.includes('cluster_state:ok')) break;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  return {
    ports,
    client,
    stop: async () => {
      for (const c of clients) c.disconnect();
      await Promise.all(
        procs.map(async (p) => {
          if (p.exitCode !== null || p.signalCode !== null) return;
          const exited = once(p, 'exit');
          p.kill('SIGKILL');
          await exited;
        }),
      );
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// A worker process of simulated fleet nodes: each node is a real RedisSync
// with its own connections and a Panel of its own, driven by simulated calls
// (no gRPC): the sync code runs as in production, only the calls are cheap.
// Driven over IPC by scale-cases.ts.
import { NO_PERMIT, Panel, PERMIT, rateTripFunc } from '@cbsuite/core';
import { RedisSync } from '@cbsuite/redis-sync';
import { Cluster, Redis } from 'ioredis';
import { simKeys } from './sim-keys.js';

export interface SimConfig {
  readonly first: number;
  readonly nodes: number;
  readonly keys: number;
  readonly namespace: string;
  readonly redisUrl?: string;
  readonly clusterPorts?: readonly number[];
  /** Calls per second per node per key. */
  readonly rate: number;
  readonly minSample: number;
  readonly coolingTimeoutMs: number;
  readonly detectTimeoutMs: number;
  /** RedisSync's key groups (default 12). */
  readonly groups?: number;
}

export type SimCommand =
  /** `fail`: the share of calls that fail. */
  { type: 'drive'; fail: number } | { type: 'stop' } | { type: 'exit' };

export type SimReport =
  | { type: 'ready' }
  | { type: 'open'; node: number; time: number; fleet: boolean }
  | { type: 'closed'; node: number; time: number }
  | { type: 'probe'; node: number; time: number }
  | { type: 'stopped'; commands: number; failedFlushes: number };

const cfg = JSON.parse(process.argv[2] as string) as SimConfig;
const send = (r: SimReport) => process.send?.(r);
// Plain names on one Redis, where a call carries every key group and the
// names matter little; on a Cluster, names that spread evenly over the
// masters (see simKeys).
const keys =
  cfg.clusterPorts === undefined
    ? Array.from({ length: cfg.keys }, (_, i) => `sim/pkg.Svc/M${i}`)
    : simKeys(cfg.keys, cfg.clusterPorts.length, cfg.groups);

interface SimNode {
  readonly index: number;
  readonly redis: Redis | Cluster;
  readonly sync: RedisSync;
  readonly panel: Panel;
}

const nodes: SimNode[] = [];
// Nodes connect in batches: hundreds of Cluster clients asking for the slots
// at once, on two cores, time out (ioredis's slotsRefreshTimeout); a real
// fleet's replicas start over minutes.
const BATCH = 25;
for (let i = 0; i < cfg.nodes; i++) {
  const index = cfg.first + i;
  const redis =
    cfg.clusterPorts === undefined
      ? new Redis(cfg.redisUrl as string, { lazyConnect: true })
      : new Cluster(
          cfg.clusterPorts.map((port) => ({ host: '127.0.0.1', port })),
          { lazyConnect: true, slotsRefreshTimeout: 5000 },
        );
  redis.on('error', () => {});
  const sync = new RedisSync({ redis, namespace: cfg.namespace, nodeId: `sim-${index}`, groups: cfg.groups });
  const panel = new Panel(
    {
      shouldTrip: rateTripFunc(0.5, cfg.minSample),
      coolingTimeoutMs: cfg.coolingTimeoutMs,
      detectTimeoutMs: cfg.detectTimeoutMs,
    },
    (_key, _from, to, _m, info) => {
      if (to === 0) send({ type: 'open', node: index, time: Date.now(), fleet: info.fleet });
      if (to === 2) send({ type: 'closed', node: index, time: Date.now() });
    },
  );
  sync.attach(panel, 'service');
  nodes.push({ index, redis, sync, panel });
  if (nodes.length % BATCH === 0) await Promise.all(nodes.slice(-BATCH).map((n) => n.sync.ready()));
}
await Promise.all(nodes.map((n) => n.sync.ready()));
send({ type: 'ready' });

let timer: ReturnType<typeof setInterval> | undefined;
const TICK_MS = 50;
function drive(fail: number): void {
  clearInterval(timer);
  let credit = 0;
  // Calls so far per (node, key): each pair fails `fail` of its own calls,
  // spread evenly (a counter shared by all pairs would give some pairs every
  // failure and others none).
  const calls = new Float64Array(nodes.length * keys.length);
  timer = setInterval(() => {
    credit += (cfg.rate * TICK_MS) / 1000;
    for (; credit >= 1; credit--) {
      for (let i = 0; i < nodes.length; i++) {
        const n = nodes[i] as SimNode;
        for (let k = 0; k < keys.length; k++) {
          const key = keys[k] as string;
          const permit = n.panel.acquire(key);
          if (permit === NO_PERMIT) continue;
          if (permit > PERMIT) send({ type: 'probe', node: n.index, time: Date.now() });
          const c = i * keys.length + k;
          const made = calls[c] as number;
          calls[c] = made + 1;
          // The pair's failures reach ⌊calls × fail⌋: this call fails when it makes the count go up.
          if (Math.floor((made + 1) * fail + 1e-9) > Math.floor(made * fail + 1e-9))
            n.panel.fail(key, undefined, permit);
          else n.panel.succeed(key, undefined, permit);
        }
      }
    }
  }, TICK_MS);
}

process.on('message', (c: SimCommand) => {
  if (c.type === 'drive') drive(c.fail);
  else if (c.type === 'stop') {
    clearInterval(timer);
    let commands = 0;
    let failedFlushes = 0;
    for (const n of nodes) {
      const s = n.sync.stats();
      commands += s.commands;
      failedFlushes += s.failedFlushes;
    }
    send({ type: 'stopped', commands, failedFlushes });
  } else if (c.type === 'exit') {
    clearInterval(timer);
    void (async () => {
      await Promise.all(nodes.map((n) => n.sync.close()));
      for (const n of nodes) n.redis.disconnect();
      process.disconnect?.();
    })();
  }
});

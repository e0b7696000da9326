// The fleet sync at scale: Redis's own CPU per (node, key) per second, with
// 10, 100 and 1,000 simulated nodes running the real sync code (several
// hundred per worker process), on one Redis and on a three-master Cluster;
// and how fast 1,000 nodes open together and how many probes they send.
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { type OwnCluster, startCluster } from '@cbsuite/testkit/cluster.js';
import { type OwnRedis, startOwnRedis } from '@cbsuite/testkit/redis.js';
import { Redis } from 'ioredis';
import type { Case } from './core-cases.js';
import type { SimCommand, SimConfig, SimReport } from './fleet-sim.js';
import { percentile } from './harness.js';

const SIM = fileURLToPath(new URL('./fleet-sim.ts', import.meta.url));
const NODES_PER_WORKER = 250;

interface Sim {
  readonly reports: SimReport[];
  send(c: SimCommand): void;
  stop(): Promise<{ commands: number; failedFlushes: number }>;
  exit(): Promise<void>;
}

async function startSim(size: number, base: Omit<SimConfig, 'first' | 'nodes'>): Promise<Sim> {
  const workers: ChildProcess[] = [];
  const reports: SimReport[] = [];
  const ready: Promise<unknown>[] = [];
  for (let first = 0; first < size; first += NODES_PER_WORKER) {
    const cfg: SimConfig = { ...base, first, nodes: Math.min(NODES_PER_WORKER, size - first) };
    const w = fork(SIM, [JSON.stringify(cfg)], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
    w.on('message', (r: SimReport) => reports.push(r));
    ready.push(
      new Promise<void>((resolve, reject) => {
        w.on('message', (r: SimReport) => r.type === 'ready' && resolve());
        w.once('exit', (code) => reject(new Error(`a simulation worker exited with ${code} before it was ready`)));
      }),
    );
    workers.push(w);
  }
  await Promise.all(ready);
  return {
    reports,
    send: (c) => {
      for (const w of workers) w.send(c);
    },
    stop: async () => {
      const done = workers.map(
        (w) =>
          new Promise<{ commands: number; failedFlushes: number }>((resolve) => {
            const on = (r: SimReport) => {
              if (r.type !== 'stopped') return;
              w.off('message', on);
              resolve(r);
            };
            w.on('message', on);
          }),
      );
      for (const w of workers) w.send({ type: 'stop' } satisfies SimCommand);
      const all = await Promise.all(done);
      return {
        commands: all.reduce((s, r) => s + r.commands, 0),
        failedFlushes: all.reduce((s, r) => s + r.failedFlushes, 0),
      };
    },
    exit: async () => {
      await Promise.all(
        workers.map(async (w) => {
          if (w.exitCode !== null) return;
          const exited = once(w, 'exit');
          w.send({ type: 'exit' } satisfies SimCommand);
          const t = setTimeout(() => w.kill('SIGKILL'), 10_000);
          await exited;
          clearTimeout(t);
        }),
      );
    },
  };
}

/** Redis CPU (user + sys, µs) and the scripts' own time (µs, from commandstats) of the servers on `ports`. */
async function serverCpu(ports: readonly number[]): Promise<{ cpu: number[]; cmd: number[] }> {
  const cpu: number[] = [];
  const cmd: number[] = [];
  for (const port of ports) {
    const r = new Redis(port, '127.0.0.1');
    const info = String(await r.info('cpu')) + String(await r.info('commandstats'));
    r.disconnect();
    const num = (re: RegExp) => Number(re.exec(info)?.[1] ?? 0);
    cpu.push((num(/used_cpu_sys:([\d.]+)/) + num(/used_cpu_user:([\d.]+)/)) * 1e6);
    // The scripts only: a command a script runs is counted on its own line too, and within the script's time.
    let usec = 0;
    for (const m of info.matchAll(/cmdstat_(?:eval|evalsha):calls=\d+,usec=(\d+)/g)) usec += Number(m[1]);
    cmd.push(usec);
  }
  return { cpu, cmd };
}

interface Server {
  readonly ports: readonly number[];
  readonly target: Pick<SimConfig, 'redisUrl' | 'clusterPorts'>;
  stop(): Promise<void>;
}

async function server(cluster: boolean): Promise<Server> {
  if (cluster) {
    const c: OwnCluster = await startCluster(3);
    return { ports: c.ports, target: { clusterPorts: c.ports }, stop: () => c.stop() };
  }
  // hz 1: Redis's timer work, about 1 ms/s at the default 10 on this machine
  // and changing by a tenth of that between seconds, is taken off as idle; at
  // 10 nodes it was several times the sync's own cost and swamped it. Work per
  // client and key expiry do not shrink with hz (their rate is set per second).
  const r: OwnRedis = await startOwnRedis(['--maxclients', '20000', '--hz', '1']);
  return { ports: [r.port], target: { redisUrl: r.url }, stop: () => r.kill() };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What the simulated fleet's downstream does while Redis's CPU is measured. */
type Weather =
  /** every call succeeds */
  | 'healthy'
  /** 30 % of the calls fail on every node: below the trip (errRate 0.5), for as long as it lasts */
  | 'partial'
  /** every call fails: the keys trip (minSample 200), stay open, and probe once per cooling */
  | 'down'
  /** half the calls fail on every node and the trip is never reached (minSample 1e9): every node failing at every tick */
  | 'failing';

const WEATHER: Record<Weather, { fail: number; minSample: number }> = {
  healthy: { fail: 0, minSample: 200 },
  partial: { fail: 0.3, minSample: 200 },
  down: { fail: 1, minSample: 200 },
  failing: { fail: 0.5, minSample: 1e9 },
};

/** Redis CPU per (node, key) per second with `size` nodes of `keys` keys each, in `weather`. */
function load(size: number, keys: number, weather: Weather, cluster: boolean, groups?: number): Case {
  return async (_o, smoke) => {
    const n = smoke ? Math.min(size, 10) : size;
    const s = await server(cluster);
    const w = WEATHER[weather];
    const sim = await startSim(n, {
      ...s.target,
      keys,
      namespace: `scale-${n}`,
      rate: 10,
      minSample: w.minSample,
      coolingTimeoutMs: 5000,
      detectTimeoutMs: 200,
      groups,
    });
    try {
      // Redis's own cost with every node connected and idle, to take off: the sync's cost is the rest.
      const idleMs = smoke ? 500 : 5000;
      await sleep(smoke ? 200 : 1000);
      const idle0 = await serverCpu(s.ports);
      await sleep(idleMs);
      const idle1 = await serverCpu(s.ports);
      const idlePerSec = idle1.cpu.map((c, i) => ((c - (idle0.cpu[i] as number)) * 1000) / idleMs);
      sim.send({ type: 'drive', fail: w.fail });
      // Warm up past a quiet flush and a bucket; measure over whole cooling periods when down.
      await sleep(smoke ? 500 : 6000);
      const before = await serverCpu(s.ports);
      const t0 = performance.now();
      await sleep(smoke ? 1000 : 15_000);
      const after = await serverCpu(s.ports);
      const seconds = (performance.now() - t0) / 1000;
      const stats = await sim.stop();
      const pairs = n * keys * seconds;
      const gross = after.cpu.map((c, k) => c - (before.cpu[k] as number));
      const perMaster = gross.map((c, k) => Math.max(0, c - (idlePerSec[k] as number) * seconds));
      const total = perMaster.reduce((a, b) => a + b, 0);
      const cmd = after.cmd.reduce((a, b, k) => a + b - (before.cmd[k] as number), 0);
      return {
        cpuPerPair: total / pairs,
        grossCpuPerPair: gross.reduce((a, b) => a + b, 0) / pairs,
        idleCpuPerSec: idlePerSec.reduce((a, b) => a + b, 0),
        cmdPerPair: cmd / pairs,
        busiestShare: total > 0 ? Math.max(...perMaster) / total : 0,
        failedFlushes: stats.failedFlushes,
      };
    } finally {
      await sim.exit();
      await s.stop();
    }
  };
}

/**
 * 1,000 nodes calling one key: the downstream fails; how far apart the nodes
 * open (first to each), whether every open is the fleet's; then it heals:
 * probes per detect interval before the first close, and the close spread.
 */
function openSpread(size: number): Case {
  return async (_o, smoke) => {
    const n = smoke ? Math.min(size, 20) : size;
    const s = await server(false);
    const detectMs = 300;
    const sim = await startSim(n, {
      ...s.target,
      keys: 1,
      namespace: `spread-${n}`,
      rate: 2,
      minSample: 200,
      coolingTimeoutMs: 3000,
      detectTimeoutMs: detectMs,
    });
    const waitFor = async (pred: () => boolean, ms: number) => {
      const end = Date.now() + ms;
      while (!pred() && Date.now() < end) await sleep(20);
      return pred();
    };
    try {
      sim.send({ type: 'drive', fail: 0 });
      await sleep(smoke ? 500 : 2000);
      sim.send({ type: 'drive', fail: 1 });
      const opens = () => sim.reports.filter((r) => r.type === 'open') as Extract<SimReport, { type: 'open' }>[];
      const allOpen = await waitFor(() => new Set(opens().map((r) => r.node)).size >= n, 20_000);
      const first = new Map<number, { time: number; fleet: boolean }>();
      for (const r of opens()) if (!first.has(r.node)) first.set(r.node, r);
      const t0 = Math.min(...[...first.values()].map((r) => r.time));
      const delays = [...first.values()].map((r) => r.time - t0);
      sim.send({ type: 'drive', fail: 0 });
      const closes = () => sim.reports.filter((r) => r.type === 'closed') as Extract<SimReport, { type: 'closed' }>[];
      await waitFor(() => new Set(closes().map((r) => r.node)).size >= n, 20_000);
      const firstClose = Math.min(...closes().map((r) => r.time));
      const probes = (sim.reports.filter((r) => r.type === 'probe') as Extract<SimReport, { type: 'probe' }>[])
        .map((r) => r.time)
        .filter((t) => t <= firstClose)
        .sort((a, b) => a - b);
      let perInterval = 0;
      for (const p of probes)
        perInterval = Math.max(perInterval, probes.filter((q) => q >= p && q < p + detectMs).length);
      return {
        allOpen: allOpen ? 1 : 0,
        fleetOpens: [...first.values()].filter((r) => r.fleet).length / Math.max(1, first.size),
        spreadP50: percentile(delays, 50),
        spreadP99: percentile(delays, 99),
        probes: probes.length,
        probesPerInterval: perInterval,
      };
    } finally {
      await sim.stop();
      await sim.exit();
      await s.stop();
    }
  };
}

export const scaleCases: Record<string, Case> = {
  ...Object.fromEntries(
    (['healthy', 'partial', 'down', 'failing'] as const).flatMap((w) =>
      [10, 100, 1000].map((size) => [`cpu/${w}-${size}`, load(size, 10, w, false)]),
    ),
  ),
  'cluster/healthy-1000': load(1000, 10, 'healthy', true),
  'cluster/partial-1000': load(1000, 10, 'partial', true),
  'cluster/down-1000': load(1000, 10, 'down', true),
  'cluster/healthy-1000-g3': load(1000, 10, 'healthy', true, 3),
  'cluster/partial-1000-g3': load(1000, 10, 'partial', true, 3),
  'spread/1000': openSpread(1000),
};

// Fleets of client processes on one Redis, synced and alone, in the same run.
import { Panel } from '@cbsuite/core';
import { CBSuite } from '@cbsuite/grpc-interceptor';
import { RedisSync } from '@cbsuite/redis-sync';
import { pinToCpu, startServerProcess } from '@cbsuite/testkit/child-server.js';
import { EchoClient, grpc, say, startEchoServer } from '@cbsuite/testkit/echo.js';
import { latest, type StateReport, startFleet } from '@cbsuite/testkit/fleet.js';
import { deletePrefix } from '@cbsuite/testkit/redis.js';
import { Redis } from 'ioredis';
import type { Case } from './core-cases.js';
import { measureSync, median, percentile } from './harness.js';

const REDIS = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const MIN_SAMPLE = 200;
const SYNC_MS = 200;
/** Calls per second of the whole fleet, whatever its size. */
const FLEET_RATE = 200;
let ns = 0;
/** Every namespace of this process starts with this, so its keys can be deleted when the case ends. */
const PREFIX = `cbs-bench-${process.pid}-`;
const namespace = () => `${PREFIX}${++ns}`;

interface Trial {
  failing: number;
  /** Fleet outcomes the fleet window held when the outage began (warm trials). */
  fleetOpens?: number;
  /** Each node's open time minus the first node's. */
  delays: number[];
  allOpen: boolean;
}

async function outage(size: number, synced: boolean, timeoutMs: number, warmMs = 0): Promise<Trial> {
  let failing = 0;
  // Warm: the downstream answers for warmMs of load first, then fails every call.
  let failFrom = Number.POSITIVE_INFINITY;
  const downstream = await startEchoServer(() => {
    if (Date.now() < failFrom) return undefined;
    failing++;
    return { code: grpc.status.UNAVAILABLE };
  });
  const fleet = await startFleet(size, {
    redisUrl: REDIS,
    namespace: namespace(),
    target: downstream.address,
    synced,
    minSample: MIN_SAMPLE,
    quorum: 2,
    syncIntervalMs: SYNC_MS,
    coolingTimeoutMs: 60_000,
    detectTimeoutMs: 200,
    halfOpenSuccesses: 2,
  });
  try {
    failFrom = Date.now() + warmMs;
    fleet.load(FLEET_RATE / size, timeoutMs + warmMs);
    if (warmMs > 0) await new Promise((r) => setTimeout(r, warmMs));
    let allOpen = true;
    await fleet
      .until((s) => latest(s, size).every((x) => x === 'OPEN'), timeoutMs, 'every node open')
      .catch(() => {
        allOpen = false;
      });
    fleet.stopLoad();
    const firstOpen = new Map<number, number>();
    for (const s of fleet.states as StateReport[])
      if (s.to === 'OPEN' && !firstOpen.has(s.index)) firstOpen.set(s.index, s.time);
    const times = [...firstOpen.values()];
    const first = Math.min(...times);
    const fleetOpens = fleet.states.filter((x) => x.to === 'OPEN' && x.fleet).length / Math.max(1, size);
    return { failing, delays: times.map((t) => t - first), allOpen, fleetOpens };
  } finally {
    await fleet.close();
    await downstream.close();
  }
}

function fleetCase(size: number): Case {
  return async (_o, smoke) => {
    const trials = smoke ? 1 : 3;
    const synced: Trial[] = [];
    const alone: Trial[] = [];
    for (let t = 0; t < trials; t++) {
      synced.push(await outage(size, true, 20_000));
      if (!smoke || size === 4) alone.push(await outage(size, false, 30_000));
    }
    const delays = synced.flatMap((t) => t.delays);
    const figures: Record<string, number> = {
      syncedFailing: median(synced.map((t) => t.failing)),
      syncedFailingMax: Math.max(...synced.map((t) => t.failing)),
      syncedRatio: median(synced.map((t) => t.failing)) / MIN_SAMPLE,
      spreadP50: percentile(delays, 50),
      spreadP99: percentile(delays, 99),
      allOpen: synced.every((t) => t.allOpen) ? 1 : 0,
    };
    if (alone.length > 0) {
      figures.aloneFailing = median(alone.map((t) => t.failing));
      figures.aloneRatio = median(alone.map((t) => t.failing)) / MIN_SAMPLE;
    }
    return figures;
  };
}

/**
 * A symmetric outage of a warm fleet: the fleet calls successfully for a
 * second (about minSample calls in all), then every call fails.
 */
function warmCase(size: number): Case {
  return async (_o, smoke) => {
    const trials = smoke ? 1 : 3;
    const synced: Trial[] = [];
    for (let t = 0; t < trials; t++) synced.push(await outage(size, true, 20_000, 1000));
    return {
      syncedFailing: median(synced.map((t) => t.failing)),
      syncedRatio: median(synced.map((t) => t.failing)) / MIN_SAMPLE,
      fleetOpens: Math.min(...synced.map((t) => t.fleetOpens ?? 0)),
      spreadP99: percentile(
        synced.flatMap((t) => t.delays),
        99,
      ),
    };
  };
}

/** Redis commands per second of one synced node driving `rate` breaker calls per second over `keys` keys. */
async function commandsPerSecond(rate: number, keys: number, ms: number): Promise<number> {
  const redis = new Redis(REDIS);
  const sync = new RedisSync({ redis, namespace: namespace(), syncIntervalMs: SYNC_MS });
  const panel = new Panel();
  sync.attach(panel, 'bench');
  await sync.ready();
  const names = Array.from({ length: keys }, (_, i) => `svc/pkg.Svc/M${i}`);
  const warm = Date.now() + 1000;
  const tick = 10;
  const perTick = rate / (1000 / tick);
  let credit = 0;
  let i = 0;
  let start = 0;
  let before = 0;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const now = Date.now();
      if (start === 0 && now >= warm) {
        start = now;
        before = sync.stats().commands;
      }
      if (start !== 0 && now - start >= ms) {
        clearInterval(timer);
        resolve();
        return;
      }
      credit += perTick;
      for (; credit >= 1; credit--) {
        const k = names[i++ % keys] as string;
        if (panel.isAllowed(k)) panel.succeed(k);
      }
    }, tick);
  });
  const perSecond = ((sync.stats().commands - before) * 1000) / (Date.now() - start);
  await sync.close();
  redis.disconnect();
  return perSecond;
}

/** Latency of unary calls through a suite with and without a RedisSync, alternating; client pinned to CPU 0. */
async function callLatency(smoke: boolean): Promise<Record<string, number>> {
  pinToCpu(0);
  const server = await startServerProcess(1, 0, 1);
  const redis = new Redis(REDIS);
  const sync = new RedisSync({ redis, namespace: namespace(), syncIntervalMs: SYNC_MS });
  const target = server.addresses[0] as string;
  const plain = new CBSuite(undefined, { fromService: 'bench' });
  const synced = new CBSuite(undefined, { fromService: 'bench', sync });
  await sync.ready();
  // The A/A control: a second client without sync, on a suite of its own,
  // measured in the same rounds. Its distance from the first is the noise.
  const control = new CBSuite(undefined, { fromService: 'bench' });
  const clients: [string, EchoClient][] = [
    ['off', new EchoClient(target, grpc.credentials.createInsecure(), { interceptors: [plain.interceptor()] })],
    ['on', new EchoClient(target, grpc.credentials.createInsecure(), { interceptors: [synced.interceptor()] })],
    ['control', new EchoClient(target, grpc.credentials.createInsecure(), { interceptors: [control.interceptor()] })],
  ];
  const lat: Record<string, number[]> = { off: [], on: [], control: [] };
  // Per round, each variant's p50: the ratios are taken round by round, so a
  // change of the machine's speed between rounds cancels out.
  const roundP50: Record<string, number[]> = { off: [], on: [], control: [] };
  const rounds = smoke ? 3 : 42;
  const perRound = smoke ? 50 : 400;
  for (let w = 0; w < (smoke ? 1 : 3); w++)
    for (const [, c] of clients) for (let i = 0; i < 500; i++) await say(c, 'w');
  for (let r = 0; r < rounds; r++) {
    // Each variant goes first, second and third equally often.
    const order = [...clients.slice(r % 3), ...clients.slice(0, r % 3)];
    for (const [k, c] of order) {
      const round: number[] = [];
      for (let i = 0; i < perRound; i++) {
        const t = performance.now();
        await say(c, 'x');
        round.push((performance.now() - t) * 1000);
      }
      lat[k]?.push(...round);
      roundP50[k]?.push(percentile(round, 50));
    }
  }
  for (const [, c] of clients) c.close();
  plain.close();
  synced.close();
  control.close();
  await sync.close();
  redis.disconnect();
  await server.kill();
  const off = lat.off as number[];
  const on = lat.on as number[];
  const again = lat.control as number[];
  const byRound = (k: string) => median((roundP50[k] as number[]).map((v, r) => v / (roundP50.off?.[r] as number)));
  return {
    offP50: percentile(off, 50),
    onP50: percentile(on, 50),
    ratioP50: byRound('on'),
    controlP50: byRound('control'),
    offP99: percentile(off, 99),
    onP99: percentile(on, 99),
    ratioP99: percentile(on, 99) / percentile(off, 99),
    controlP99: percentile(again, 99) / percentile(off, 99),
  };
}

/** Runs a case, then deletes every key it left in Redis (breaker states live as long as their cooling time). */
const clean =
  (c: Case): Case =>
  async (o, smoke) => {
    try {
      return await c(o, smoke);
    } finally {
      await deletePrefix(REDIS, PREFIX);
    }
  };

export const fleetCases: Record<string, Case> = Object.fromEntries(
  Object.entries({
    'outage/4': fleetCase(4),
    'outage/8': fleetCase(8),
    'warm/4': warmCase(4),
    'commands/1k': async (_o, smoke) => ({ perNode: await commandsPerSecond(1000, 5, smoke ? 1000 : 12_000) }),
    'commands/10k': async (_o, smoke) => ({ perNode: await commandsPerSecond(10_000, 5, smoke ? 1000 : 12_000) }),
    'latency/grpc': (_o, smoke) => callLatency(smoke),
    'latency/engine': async (o) => {
      // The raw cost the sync adds to an outcome: one counter in the breaker's link.
      const redis = new Redis(REDIS);
      const sync = new RedisSync({ redis, namespace: namespace(), syncIntervalMs: SYNC_MS });
      const alone = new Panel();
      const shared = new Panel();
      sync.attach(shared, 'bench');
      await sync.ready();
      const run = (p: Panel) =>
        measureSync((n) => {
          const b = p.getBreaker('svc/pkg.Svc/M');
          for (let i = 0; i < n; i++) {
            const permit = b.acquire();
            if (permit !== 0) b.succeed(undefined, permit);
          }
        }, o);
      const off: number[] = [];
      const on: number[] = [];
      for (let i = 0; i < 5; i++) {
        off.push(run(alone));
        on.push(run(shared));
      }
      await sync.close();
      redis.disconnect();
      return { off: median(off), on: median(on) };
    },
  } satisfies Record<string, Case>).map(([id, c]) => [id, clean(c)]),
);

// One replica of a client in a process of its own: a CBSuite (service level)
// calling a downstream Echo service, shared with the fleet through a
// RedisSync unless told to run alone. Driven over IPC by fleet.ts.
import { CBSuite, stateName } from '@cbsuite/grpc-interceptor';
import { RedisSync } from '@cbsuite/redis-sync';
import { Cluster, Redis } from 'ioredis';
import { EchoClient, grpc, say } from './echo.js';

export interface NodeConfig {
  readonly index: number;
  readonly redisUrl: string;
  readonly namespace: string;
  readonly target: string;
  readonly synced: boolean;
  readonly minSample: number;
  readonly quorum: number;
  readonly syncIntervalMs: number;
  readonly coolingTimeoutMs: number;
  readonly detectTimeoutMs: number;
  readonly halfOpenSuccesses: number;
  /** Ports of a Redis Cluster to use instead of `redisUrl`. */
  readonly clusterPorts?: readonly number[];
}

export type Command =
  | { type: 'load'; perSecond: number; durationMs: number }
  | { type: 'stop-load' }
  | { type: 'stats' }
  | { type: 'exit' };

export interface NodeStats {
  index: number;
  sent: number;
  failed: number;
  rejected: number;
  state: string;
  fleet: boolean;
  connected: boolean;
  commands: number;
  syncFlushes: number;
}

export type Report =
  | { type: 'ready'; index: number; nodeId: string }
  | { type: 'state'; index: number; to: string; fleet: boolean; cause: string; time: number }
  | { type: 'stats'; stats: NodeStats }
  | { type: 'load-done'; index: number };

const cfg = JSON.parse(process.argv[2] as string) as NodeConfig;
const send = (r: Report) => process.send?.(r);

const redis =
  cfg.clusterPorts === undefined
    ? new Redis(cfg.redisUrl, { maxRetriesPerRequest: 1, retryStrategy: () => 100 })
    : new Cluster(cfg.clusterPorts.map((port) => ({ host: '127.0.0.1', port })));
redis.on('error', () => {});
const sync = cfg.synced
  ? new RedisSync({ redis, namespace: cfg.namespace, syncIntervalMs: cfg.syncIntervalMs, quorum: cfg.quorum })
  : undefined;
const cbs = new CBSuite(undefined, {
  fromService: 'fleet',
  defaultServiceCBConfig: { errRate: 0.5, minSample: cfg.minSample },
  serviceBreaker: {
    coolingTimeoutMs: cfg.coolingTimeoutMs,
    detectTimeoutMs: cfg.detectTimeoutMs,
    halfOpenSuccesses: cfg.halfOpenSuccesses,
  },
  sync,
});
const client = new EchoClient(cfg.target, grpc.credentials.createInsecure(), { interceptors: [cbs.interceptor()] });
const KEY = cbs.serviceKey('/echo.v1.Echo/Say');

let sent = 0;
let failed = 0;
let rejected = 0;
cbs.onStateChange((e) => {
  if (e.level === 'service') {
    send({ type: 'state', index: cfg.index, to: e.toName, fleet: e.fleet, cause: e.cause, time: Date.now() });
  }
});
const isFleet = () => cbs.servicePanel.breaker(KEY)?.isFleetScoped() ?? false;

let loadTimer: ReturnType<typeof setInterval> | undefined;
function load(perSecond: number, durationMs: number): void {
  clearInterval(loadTimer);
  const tickMs = 10;
  const perTick = perSecond / (1000 / tickMs);
  let credit = 0;
  const end = Date.now() + durationMs;
  loadTimer = setInterval(() => {
    if (Date.now() >= end) {
      clearInterval(loadTimer);
      send({ type: 'load-done', index: cfg.index });
      return;
    }
    credit += perTick;
    for (; credit >= 1; credit--) {
      void say(client, `n${cfg.index}:${sent + rejected}`, { deadline: Date.now() + 2000 }).then((r) => {
        if (r.error === undefined) sent++;
        else if (r.error.metadata?.get('x-cbsuite-circuitbreak').length) rejected++;
        else {
          sent++;
          failed++;
        }
      });
    }
  }, tickMs);
}

process.on('message', (c: Command) => {
  if (c.type === 'load') load(c.perSecond, c.durationMs);
  else if (c.type === 'stop-load') clearInterval(loadTimer);
  else if (c.type === 'stats') {
    const b = cbs.servicePanel.breaker(KEY);
    const s = sync?.stats();
    send({
      type: 'stats',
      stats: {
        index: cfg.index,
        sent,
        failed,
        rejected,
        state: b === undefined ? 'CLOSED' : stateName(b.state()),
        fleet: isFleet(),
        connected: s?.connected ?? false,
        commands: s?.commands ?? 0,
        syncFlushes: s?.flushes ?? 0,
      },
    });
  } else if (c.type === 'exit') {
    clearInterval(loadTimer);
    void (async () => {
      await sync?.close();
      cbs.close();
      client.close();
      redis.disconnect();
      // Nothing else holds the process: it exits on its own once the IPC channel closes.
      process.disconnect?.();
    })();
  }
});

if (sync) await sync.ready();
send({ type: 'ready', index: cfg.index, nodeId: sync?.nodeId ?? `local-${cfg.index}` });

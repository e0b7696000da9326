// One client node in a process of its own (client-node.ts): a CBSuite
// calling the Echo service, shared with the fleet through a RedisSync unless
// told to run alone. Usage (forked by fleet.ts, with an IPC channel):
//   fleet-node.ts <NodeConfig as JSON>
// Says `ready` once warmed up and caught up with the fleet; then sends each
// breaker state change, its snapshot every `snapshotEveryMs`, and takes the
// commands below. It leaves when its parent goes, and ignores Ctrl-C, which
// reaches the whole process group: its parent stops it.
import { stateName } from '@cbsuite/grpc-interceptor';
import { RedisSync } from '@cbsuite/redis-sync';
import { Cluster, Redis } from 'ioredis';
import { ClientNode, type ClientNodeOptions } from './client-node.js';
import type { NodeSnapshot, NodeStats, StateChange } from './node-stats.js';
import type { SuiteSettings } from './suite-settings.js';

export interface NodeConfig extends Partial<Omit<ClientNodeOptions, 'target' | 'suite'>> {
  readonly index: number;
  readonly redisUrl: string;
  /** Ports of a Redis Cluster to use instead of `redisUrl`. */
  readonly clusterPorts?: readonly number[];
  readonly namespace: string;
  /** Whether the node shares its breakers through Redis (else it opens no connection to it). */
  readonly synced: boolean;
  readonly syncIntervalMs: number;
  /** RedisSync's `quorum` (default: its own). */
  readonly quorum?: number;
  readonly target: string;
  /** The suite; without it, a service level alone from the four settings below. */
  readonly suite?: SuiteSettings;
  readonly minSample?: number;
  readonly coolingTimeoutMs?: number;
  readonly detectTimeoutMs?: number;
  readonly halfOpenSuccesses?: number;
  /** How often the node sends its snapshot; default never. */
  readonly snapshotEveryMs?: number;
}

/** What the parent tells a node; each `seq` is answered with a `done`. */
export type Command =
  /** Start the load: `perSecond` (default the config's) for `durationMs` (default until stopped). */
  | { readonly type: 'load'; readonly perSecond?: number; readonly durationMs?: number }
  /** Stop the load and wait for its calls in flight; `done` carries the last snapshot. */
  | { readonly type: 'stop-load'; readonly seq: number }
  | { readonly type: 'stats'; readonly seq: number }
  /** `publishServiceCBConfig(key, { errRate })` here; `done` carries when it was applied here. */
  | { readonly type: 'publish'; readonly seq: number; readonly key: string; readonly errRate: number }
  /** Answer `done` at once, then `applied` once `errRate` is in force for the key. */
  | { readonly type: 'watch'; readonly seq: number; readonly key: string; readonly errRate: number }
  /** Close the load, the sync, the suite and Redis, and exit on its own. */
  | { readonly type: 'exit' };

export type Report =
  | { readonly type: 'ready'; readonly nodeId: string }
  | { readonly type: 'failed'; readonly message: string }
  | { readonly type: 'state'; readonly change: StateChange }
  | { readonly type: 'snapshot'; readonly snapshot: NodeSnapshot }
  | {
      readonly type: 'done';
      readonly seq: number;
      readonly at?: number;
      readonly snapshot?: NodeSnapshot;
      readonly stats?: NodeStats;
      readonly error?: string;
    }
  /** A watched config is in force (`at`), or did not come in time (no `at`). */
  | { readonly type: 'applied'; readonly seq: number; readonly at?: number };

const READY_TIMEOUT_MS = 15_000;
const WATCH_TIMEOUT_MS = 5000;

const cfg = JSON.parse(process.argv[2] ?? '{}') as NodeConfig;
/** Epoch ms with a fraction: the same clock in every process. */
const epochNow = () => performance.timeOrigin + performance.now();
const send = (r: Report, then?: () => void) => {
  if (process.connected) process.send?.(r, undefined, {}, then);
  else then?.();
};
const leave = () => process.exit(0);
process.on('disconnect', leave);
process.on('SIGINT', () => undefined);

const redis = !cfg.synced
  ? undefined
  : cfg.clusterPorts === undefined
    ? new Redis(cfg.redisUrl, { maxRetriesPerRequest: 1, retryStrategy: () => 100 })
    : new Cluster(cfg.clusterPorts.map((port) => ({ host: '127.0.0.1', port })));
// Redis errors are the sync's business: calls go on with local decisions.
redis?.on('error', () => undefined);
const sync =
  redis === undefined
    ? undefined
    : new RedisSync({
        redis,
        namespace: cfg.namespace,
        syncIntervalMs: cfg.syncIntervalMs,
        ...(cfg.quorum === undefined ? {} : { quorum: cfg.quorum }),
      });

/** The tests' suite: a service level alone. */
function serviceLevelAlone(): SuiteSettings {
  const { minSample, coolingTimeoutMs, detectTimeoutMs, halfOpenSuccesses } = cfg;
  if (minSample === undefined || coolingTimeoutMs === undefined || detectTimeoutMs === undefined) {
    throw new Error('a fleet node needs either `suite` or minSample, coolingTimeoutMs and detectTimeoutMs');
  }
  return {
    fromService: 'fleet',
    service: { errRate: 0.5, minSample },
    serviceBreaker: { coolingTimeoutMs, detectTimeoutMs, halfOpenSuccesses },
  };
}

/** The node, once warmed up and caught up with the fleet. */
async function start(): Promise<ClientNode> {
  const { index, name, target, addresses, channel } = cfg;
  const options: ClientNodeOptions = {
    name: name ?? `node-${index}`,
    target,
    suite: cfg.suite ?? serviceLevelAlone(),
    load: cfg.load ?? { ratePerSec: 0, deadlineMs: 2000, textPrefix: `n${index}:` },
    ...(addresses === undefined ? {} : { addresses }),
    ...(channel === undefined ? {} : { channel }),
  };
  const node = await ClientNode.create(options, sync);
  if (sync === undefined) return node;
  let timer: NodeJS.Timeout | undefined;
  const ready = await Promise.race([
    sync.ready().then(() => true),
    new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), READY_TIMEOUT_MS);
    }),
  ]);
  clearTimeout(timer);
  if (!ready) throw new Error(`the sync did not reach Redis in ${READY_TIMEOUT_MS} ms`);
  return node;
}

const node = await start().catch((err: unknown) => {
  send({ type: 'failed', message: err instanceof Error ? err.message : String(err) }, () => process.exit(1));
  return new Promise<never>(() => undefined);
});
node.onStateChange((change) => send({ type: 'state', change }));
const every = cfg.snapshotEveryMs;
const snapshots =
  every === undefined ? undefined : setInterval(() => send({ type: 'snapshot', snapshot: node.snapshot() }), every);
const watches = new Set<NodeJS.Timeout>();

function stats(): NodeStats {
  const b = node.cbs.servicePanel.breaker(node.serviceKey);
  const s = sync?.stats();
  const l = node.load.counters();
  return {
    index: cfg.index,
    sent: l.ok + l.failed,
    failed: l.failed,
    rejected: l.rejectedService + l.rejectedInstance,
    state: b === undefined ? 'CLOSED' : stateName(b.state()),
    fleet: b?.isFleetScoped() ?? false,
    connected: s?.connected ?? false,
    commands: s?.commands ?? 0,
    syncFlushes: s?.flushes ?? 0,
  };
}

function watch(seq: number, key: string, errRate: number): void {
  send({ type: 'done', seq });
  // The suite has no event for a config applied from the fleet: look every millisecond.
  const until = Date.now() + WATCH_TIMEOUT_MS;
  const look = setInterval(() => {
    const inForce = node.cbs.serviceCBConfig(key).errRate === errRate;
    if (!inForce && Date.now() < until) return;
    clearInterval(look);
    watches.delete(look);
    send(inForce ? { type: 'applied', seq, at: epochNow() } : { type: 'applied', seq });
  }, 1);
  watches.add(look);
}

async function exit(): Promise<void> {
  clearInterval(snapshots);
  for (const w of watches) clearInterval(w);
  await node.load.stop();
  // Flushes what is pending and releases its probe leases.
  await sync?.close();
  await node.close();
  redis?.disconnect();
  // Nothing else holds the process: it exits on its own once the IPC channel closes.
  process.off('disconnect', leave);
  process.disconnect?.();
}

process.on('message', (c: Command) => {
  if (c.type === 'load') node.load.start(c.durationMs, c.perSecond);
  else if (c.type === 'stop-load') {
    void node.load.stop().then(() => send({ type: 'done', seq: c.seq, snapshot: node.snapshot() }));
  } else if (c.type === 'stats') send({ type: 'done', seq: c.seq, stats: stats() });
  else if (c.type === 'publish') {
    // Validated and applied here at once; then stored in Redis and published.
    const at = epochNow();
    node.cbs.publishServiceCBConfig(c.key, { errRate: c.errRate }).then(
      () => send({ type: 'done', seq: c.seq, at }),
      (err: unknown) => send({ type: 'done', seq: c.seq, error: err instanceof Error ? err.message : String(err) }),
    );
  } else if (c.type === 'watch') watch(c.seq, c.key, c.errRate);
  else void exit();
});

send({ type: 'ready', nodeId: sync?.nodeId ?? `local-${cfg.index}` });

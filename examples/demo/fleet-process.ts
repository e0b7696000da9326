// One client node of the fleet demo, in a process of its own: a ClientNode
// whose CBSuite shares its breakers with the other nodes through RedisSync.
// Usage (forked with an IPC channel):
//   fleet-process.ts <FleetNodeConfig as JSON>
// Says {type: 'ready'} once connected to the instances and caught up with the
// fleet, then sends its snapshot every `snapshotEveryMs` and each breaker state
// change as it happens, and takes commands (see fleet-ipc.ts).
import { RedisSync } from '@cbsuite/redis-sync';
import { Redis } from 'ioredis';
import { ClientNode } from './client-node.js';
import type { FleetNodeConfig, FromFleetNode, ToFleetNode, WindowAt } from './fleet-ipc.js';
import type { StateName } from './snapshot.js';

const READY_TIMEOUT_MS = 15_000;
const WATCH_TIMEOUT_MS = 5000;

const cfg = JSON.parse(process.argv[2] ?? '{}') as FleetNodeConfig;
/** Epoch ms with a fraction: the same clock in every process of the demo. */
const epochNow = () => performance.timeOrigin + performance.now();
const send = (m: FromFleetNode, then?: () => void) => {
  if (process.connected) process.send?.(m, undefined, {}, then);
  else then?.();
};

// An orphan would keep calling: leave with the demo.
process.on('disconnect', () => process.exit(0));
// Ctrl-C in the terminal reaches the whole process group: the demo stops its
// nodes itself, with their last counts.
process.on('SIGINT', () => undefined);

const redis = new Redis(cfg.redisUrl);
// Redis errors are the sync's business: calls go on with local decisions.
redis.on('error', () => undefined);
const sync = new RedisSync({ redis, namespace: cfg.namespace, syncIntervalMs: cfg.syncIntervalMs });

/** The node, once connected to every instance and caught up with the fleet. */
async function start(): Promise<ClientNode> {
  const node = await ClientNode.create(cfg.name, cfg.addresses, cfg.profile, {
    sync,
    serviceMinSample: cfg.serviceMinSample,
  });
  let timer: NodeJS.Timeout | undefined;
  const ready = await Promise.race([
    sync.ready().then(() => true),
    new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), READY_TIMEOUT_MS);
    }),
  ]);
  clearTimeout(timer);
  if (!ready) throw new Error(`the sync did not reach Redis at ${cfg.redisUrl} in ${READY_TIMEOUT_MS} ms`);
  return node;
}

const node = await start().catch((err: unknown) => {
  send({ type: 'failed', message: err instanceof Error ? err.message : String(err) }, () => process.exit(1));
  return new Promise<never>(() => undefined);
});

node.onStateChange((e) => {
  const at = epochNow();
  const service = e.level === 'service';
  const breaker = (service ? node.cbs.servicePanel : node.cbs.instancePanel).breaker(e.key);
  const view = breaker?.fleetView();
  const c = e.counts;
  const ownFailures = c.failures + c.timeouts;
  let fleetWindow: (WindowAt & { failingNodes: number }) | undefined;
  if (view !== undefined) {
    const failures = ownFailures + view.failures + view.timeouts;
    const samples = c.samples + view.successes + view.failures + view.timeouts;
    fleetWindow = {
      samples,
      failures,
      errorRate: samples === 0 ? 0 : failures / samples,
      failingNodes: view.failingNodes + (ownFailures > 0 ? 1 : 0),
    };
  }
  send({
    type: 'state',
    change: {
      node: cfg.name,
      at,
      level: e.level,
      key: e.key,
      from: e.fromName as StateName,
      to: e.toName as StateName,
      cause: e.cause,
      fleet: e.fleet,
      coolingMs: e.coolingMs,
      own: { samples: c.samples, failures: ownFailures, errorRate: c.errorRate },
      conseErrors: c.conseErrors,
      ...(fleetWindow === undefined ? {} : { fleetWindow }),
      errRate: service ? node.cbs.serviceCBConfig(e.key).errRate : node.cbs.instanceCBConfig(e.key).errRate,
    },
  });
});

const snapshots = setInterval(() => send({ type: 'snapshot', snapshot: node.snapshot() }), cfg.snapshotEveryMs);
const watches = new Set<NodeJS.Timeout>();

process.on('message', (m: ToFleetNode) => {
  switch (m.type) {
    case 'start':
      node.load.start();
      break;
    case 'stop':
      void node.load.stop().then(() => send({ type: 'done', seq: m.seq, snapshot: node.snapshot() }));
      break;
    case 'publish': {
      // Validated and applied here at once; then stored in Redis and published.
      const at = epochNow();
      node.cbs.publishServiceCBConfig(m.key, { errRate: m.errRate }).then(
        () => send({ type: 'done', seq: m.seq, at }),
        (err: unknown) => send({ type: 'done', seq: m.seq, error: err instanceof Error ? err.message : String(err) }),
      );
      break;
    }
    case 'watch': {
      send({ type: 'done', seq: m.seq });
      // The suite has no event for a config applied from the fleet: look every millisecond.
      const until = Date.now() + WATCH_TIMEOUT_MS;
      const look = setInterval(() => {
        const inForce = node.cbs.serviceCBConfig(m.key).errRate === m.errRate;
        if (!inForce && Date.now() < until) return;
        clearInterval(look);
        watches.delete(look);
        send(inForce ? { type: 'applied', seq: m.seq, at: epochNow() } : { type: 'applied', seq: m.seq });
      }, 1);
      watches.add(look);
      break;
    }
    case 'close':
      clearInterval(snapshots);
      for (const w of watches) clearInterval(w);
      void (async () => {
        await node.load.stop();
        // Flushes what is pending and releases its probe leases.
        await sync.close();
        await node.close();
        await redis.quit().catch(() => redis.disconnect());
        send({ type: 'done', seq: m.seq }, () => process.exit(0));
      })();
      break;
  }
});

send({ type: 'ready', nodeId: sync.nodeId });

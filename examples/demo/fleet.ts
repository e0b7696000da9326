import { SAY } from '@cbsuite/testkit/client-node.js';
import { type Fleet, startFleet } from '@cbsuite/testkit/fleet.js';
import { Instances } from '@cbsuite/testkit/instances.js';
import { deletePrefix, type FindRedisOptions, findRedis } from '@cbsuite/testkit/redis-server.js';
import { suiteOf } from '@cbsuite/testkit/suite-settings.js';
import { FleetNarrator } from './fleet-narrator.js';
import { list, ms, pct, secs } from './format.js';
import { clientOf, SERVICE_MIN_SAMPLE, shareOf } from './profile.js';
import type { ScenarioContext } from './scenario.js';
import { Stage, type StageOptions } from './stage.js';

/** The client nodes of the fleet, one process each; the first publishes the runtime config. */
export const FLEET_NODES = ['client-1', 'client-2', 'client-3', 'client-4'] as const;
export const FLEET_TITLE = 'cbsuite demo: a fleet of gRPC clients sharing circuit breakers through Redis';
const INSTANCES = 3;
const SYNC_INTERVAL_MS = 200;
/**
 * The service breaker's `minSample` on each node: the embedded client's
 * times the nodes. A trip reads the fleet's window (every node's calls), so
 * the fleet still trips after about that many calls in all. But when the
 * fleet's window does not trip, a node whose own window does opens alone
 * (RedisSync's answer to one sick node). Each node makes a quarter of the
 * calls: with the embedded 20, its own window, a quarter as full, would now
 * and then cross the threshold by chance while the service fails 35% of calls.
 */
export const FLEET_MIN_SAMPLE = SERVICE_MIN_SAMPLE * FLEET_NODES.length;
const SNAPSHOT_MS = 100;
const NARRATE_MS = 25;

/** Options of a fleet run. */
export interface FleetOptions extends StageOptions {
  /** Where to find Redis: `{ url: process.env.REDIS_URL }` for `pnpm demo:fleet`. */
  readonly redis: FindRedisOptions;
}

/**
 * Fleet mode: the embedded demo's three Echo instances and script, called
 * by four client processes whose suites share their breakers through one
 * Redis (`RedisSync`). The fleet opens together and probes once for all.
 */
export async function runFleet(o: FleetOptions): Promise<void> {
  const p = o.profile;
  const write = (line: string) => o.out.write(`${line}\n`);
  const nodes = FLEET_NODES.length;
  write(
    `cbsuite demo, fleet mode (${p.name}, ${secs(p.durationMs)}): ${nodes} client processes sharing their ` +
      `breakers through Redis, ${INSTANCES} Echo instances, each in its own process`,
  );
  const redis = await findRedis({ ...o.redis, needs: { who: 'fleet mode', command: 'pnpm demo:fleet' } });
  const namespace = `cbsuite-demo-${process.pid}-${Date.now().toString(36)}`;
  try {
    write(`  Redis ${redis.url} (${redis.origin}), namespace ${namespace} (its keys are deleted at the end)`);
    const instances = await Instances.start(INSTANCES, p.normal);
    try {
      const share = shareOf(p, nodes);
      write(
        `  instances ${instances.addresses.join(', ')}; starting ${list([...FLEET_NODES])}, each a process ` +
          `calling Say about ${share.load.ratePerSec}/s (at most ${share.load.maxInFlight} in flight) through a ` +
          `CBSuite with sync: new RedisSync({ redis, namespace, syncIntervalMs: ${SYNC_INTERVAL_MS} })`,
      );
      const client = clientOf(share, instances.addresses, FLEET_MIN_SAMPLE);
      const fleet = await startFleet(FLEET_NODES, {
        ...client,
        redisUrl: redis.url,
        namespace,
        synced: true,
        syncIntervalMs: SYNC_INTERVAL_MS,
        snapshotEveryMs: SNAPSHOT_MS,
      });
      try {
        // The same suite as every node's, to read its settings here.
        const suite = suiteOf(client.suite);
        const key = suite.serviceKey(SAY);
        const service = suite.serviceCBConfig(key);
        const instance = suite.instanceCBConfig();
        suite.close();
        const b = p.breaker;
        write(
          `  service breaker: trips at ${pct(service.errRate, 0)} errors over ≥ ${service.minSample} calls of the ` +
            `fleet's window, for every node when ≥ 2 nodes see errors (the quorum); instance breakers: at ` +
            `${pct(instance.errRate, 0)} over ≥ ${instance.minSample} attempts or 3 failures in a row, for every node ` +
            `(quorum 1); cooling ${secs(b.coolingMs)} (backoff to ${secs(b.maxCoolingMs)}), then one node, the ` +
            `holder of the fleet's probe lease, sends a probe every ${b.detectMs} ms; window ${secs(b.bucketMs * 100)}`,
        );
        await play(o, instances, fleet, key);
      } finally {
        await fleet.close();
      }
    } finally {
      await instances.stop();
    }
  } finally {
    const deleted = await deletePrefix(redis.url, `${namespace}:`).then(
      (n) => `deleted its ${n} keys`,
      (err: unknown) => `could not delete its keys (${err instanceof Error ? err.message : String(err)})`,
    );
    await redis.stop();
    write(`  Redis namespace ${namespace}: ${deleted}${redis.own ? '; its redis-server stopped' : ''}`);
  }
}

async function play(o: FleetOptions, instances: Instances, fleet: Fleet, serviceKey: string): Promise<void> {
  const p = o.profile;
  const stage = new Stage(o, { title: FLEET_TITLE, mode: 'fleet', nodes: fleet.names }, instances, () =>
    fleet.snapshots(),
  );
  // State changes carry epoch times from the nodes' processes: the same clock as this one's.
  const { recorder, view, now, t0Epoch } = stage;

  const narrator = new FleetNarrator(fleet.names, p.breaker.detectMs);
  fleet.onStateChange((c) => narrator.push({ ...c, atMs: stage.recordState(c) }));
  const tell = () => {
    for (const n of narrator.drain(now())) view.narrate(n);
  };

  const publisher = fleet.names[0] as string;
  let errRate = p.errRate.before;
  const ctx: ScenarioContext = {
    instances,
    serviceKey,
    fleet: { nodes: fleet.names.length, publisher },
    serviceErrRate: () => errRate,
    setServiceErrRate: async (next) => {
      const applied = await fleet.publishServiceErrRate(publisher, serviceKey, next);
      errRate = next;
      const start = applied.get(publisher);
      const reached: string[] = [];
      const missed: string[] = [];
      let last = start ?? t0Epoch + now();
      // In the order the nodes applied it.
      const byTime = [...applied].sort(
        ([, a], [, b]) => (a ?? Number.POSITIVE_INFINITY) - (b ?? Number.POSITIVE_INFINITY),
      );
      for (const [node, at] of byTime) {
        if (at === undefined) {
          missed.push(node);
          continue;
        }
        recorder.threshold({ atMs: at - t0Epoch, node, key: serviceKey, errRate: next });
        last = Math.max(last, at);
        if (node !== publisher && start !== undefined) reached.push(`${node} ${ms(at - start)} later`);
      }
      const text =
        missed.length === 0
          ? `the new threshold reached every node: ${publisher} applied it at once and published it; ` +
            `${list(reached)}, through Redis`
          : `the new threshold did not reach ${list(missed)} within seconds`;
      view.narrate({ atMs: last - t0Epoch, kind: 'note', text });
    },
  };
  for (const node of fleet.names) recorder.threshold({ atMs: 0, node, key: serviceKey, errRate });
  await stage.play(ctx, {
    startLoad: () => fleet.load(),
    stopLoad: () => fleet.stopLoad(),
    tick: { everyMs: NARRATE_MS, run: tell },
    afterLoad: () => {
      for (const n of narrator.flush()) view.narrate(n);
    },
  });
}

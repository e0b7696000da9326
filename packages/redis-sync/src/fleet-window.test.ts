import { Panel, rateTripFunc, State } from '@cbsuite/core';
import { deletePrefix, sharedRedisUrl } from '@cbsuite/testkit/redis.js';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  breakerKeys,
  KEY,
  openFleet,
  type SyncNode,
  type SyncNodeOptions,
  syncNodes,
} from './test-support/sync-node.js';

// The fleet window and what a trip opens: nodes of one fleet in one process,
// flushed by hand, with clocks moved by hand.
const PREFIX = `cbs-test-window-${process.pid}`;
let ns = 0;
const namespace = () => `${PREFIX}-${++ns}`;
const nodes = syncNodes(sharedRedisUrl);
const node = nodes.node;
afterEach(() => nodes.cleanup());
afterAll(() => deletePrefix(sharedRedisUrl(), PREFIX));

const fleetOpen = (n: string, o: SyncNodeOptions = {}) => openFleet(node, n, o);

describe('the fleet window', () => {
  it("adds the rest of the fleet's counts, not its own", async () => {
    const n = namespace();
    const a = await node(n);
    const b = await node(n);
    a.succeed(7);
    a.fail(3);
    await a.sync.flushNow();
    b.succeed(5);
    await b.sync.flushNow();
    await a.sync.flushNow();
    expect(b.panel.breaker(KEY)?.fleetView()).toMatchObject({
      successes: 7,
      failures: 3,
      timeouts: 0,
      failingNodes: 0,
      reportingNodes: 2,
    });
    expect(a.panel.breaker(KEY)?.fleetView()).toMatchObject({ successes: 5, failures: 0, failingNodes: 0 });
    expect(new Panel().getBreaker(KEY).fleetView()).toBeUndefined();
    expect(a.sync.stats()).toMatchObject({ connected: true, keys: 1, pendingBatches: 0, duplicates: 0 });
  });

  it('trips once the fleet holds minSample calls and opens every node', async () => {
    const [a, b] = await fleetOpen(namespace());
    for (const x of [a, b]) {
      expect(x.panel.breaker(KEY)?.state()).toBe(State.Open);
      expect(x.panel.breaker(KEY)?.isFleetScoped()).toBe(true);
      expect(x.panel.isAllowed(KEY)).toBe(false);
    }
    expect(a.panel.getMetricer(KEY).samples()).toBe(10);
  });

  it('opens every node of a warm fleet for the fleet in a symmetric outage, although each own window trips first', async () => {
    const n = namespace();
    const fleet = [await node(n), await node(n), await node(n)];
    for (const x of fleet) {
      x.succeed(30);
      await x.sync.flushNow();
    }
    // The outage starts two seconds later, on every node at once.
    for (const x of fleet) x.clock.advance(2000);
    for (const x of fleet) {
      x.fail(15);
      await x.sync.flushNow();
    }
    const [a, b, c] = fleet as [SyncNode, SyncNode, SyncNode];
    await a.sync.flushNow();
    // A's own window (30 successes, 30 failures) trips before the fleet's (90, 60) does.
    const heard = [b.changed(), c.changed()];
    a.fail(15);
    expect(a.transitions).toEqual([`${KEY} 2>0 trip fleet`]);
    expect(await Promise.all(heard)).toEqual([`${KEY} 2>0 remote fleet`, `${KEY} 2>0 remote fleet`]);
  });

  it('lets one sick node open alone while the fleet succeeds (quorum 2)', async () => {
    const n = namespace();
    const sick = await node(n);
    const healthy = await node(n);
    healthy.succeed(40);
    await healthy.sync.flushNow();
    sick.fail(19);
    await sick.sync.flushNow();
    sick.fail(1);
    expect(sick.transitions).toEqual([`${KEY} 2>0 trip`]);
    await sick.sync.settled();
    await healthy.sync.flushNow();
    expect(healthy.panel.breaker(KEY)?.state()).toBe(State.Closed);
    expect(healthy.panel.breaker(KEY)?.fleetView()?.failingNodes).toBe(1);
  });

  it('lets one sick node open alone even when its calls dominate the fleet counts', async () => {
    const n = namespace();
    const sick = await node(n);
    const quiet = [await node(n), await node(n)];
    for (const q of quiet) {
      q.succeed(3);
      await q.sync.flushNow();
    }
    sick.fail(5);
    await sick.sync.flushNow();
    sick.fail(10);
    // The fleet's window holds 21 calls, 15 of them errors: it trips; no other node fails.
    expect(sick.transitions).toEqual([`${KEY} 2>0 trip`]);
    for (const q of quiet) {
      await q.sync.flushNow();
      expect(q.panel.breaker(KEY)?.state()).toBe(State.Closed);
    }
  });

  it('takes a share of the reporting nodes as quorum', async () => {
    const o: SyncNodeOptions = { quorum: { share: 0.5, min: 2 } };
    /** Of `size` warm nodes, the second fails a little and the first a lot: what does the first open? */
    const trial = async (size: number) => {
      const n = namespace();
      const fleet: SyncNode[] = [];
      for (let i = 0; i < size; i++) fleet.push(await node(n, o));
      for (const x of fleet) {
        x.succeed(3);
        await x.sync.flushNow();
      }
      for (const x of fleet) x.clock.advance(2000);
      const [a, b] = fleet as [SyncNode, SyncNode];
      b.fail(8);
      await b.sync.flushNow();
      a.fail(9);
      await a.sync.flushNow();
      a.fail(1);
      return a.transitions;
    };
    // Two of four nodes failing: half the reporting nodes, and the floor of two.
    expect(await trial(4)).toEqual([`${KEY} 2>0 trip fleet`]);
    // Two of five is less than half.
    expect(await trial(5)).toEqual([`${KEY} 2>0 trip`]);
  });

  it("opens the fleet on any node's trip with quorum 1", async () => {
    const n = namespace();
    const a = await node(n, { quorum: 1 });
    const b = await node(n, { quorum: 1 });
    b.succeed(40);
    await b.sync.flushNow();
    a.fail(19);
    await a.sync.flushNow();
    const heard = b.changed();
    a.fail(1);
    expect(await heard).toBe(`${KEY} 2>0 remote fleet`);
  });

  it('ages counts out of the window by the Redis server clock, whatever the nodes clocks say', async () => {
    const n = namespace();
    const window = { panel: { bucketTimeMs: 5, bucketNums: 100 }, syncBuckets: 10 };
    const a = await node(n, { skewMs: -40_000, ...window });
    const b = await node(n, { skewMs: 40_000, ...window });
    a.fail(5);
    await a.sync.flushNow();
    b.succeed(1);
    await b.sync.flushNow();
    expect(b.panel.breaker(KEY)?.fleetView()?.failures).toBe(5);
    await new Promise((r) => setTimeout(r, 600)); // the 500 ms window on the Redis server's clock
    b.succeed(1);
    await b.sync.flushNow();
    expect(b.panel.breaker(KEY)?.fleetView()?.failures).toBe(0);
  });
});

describe('what a flush sends', () => {
  it('sends a change of its erring entry and the errors of a failing node at once, rare errors and successes at their cadences, and nothing for a key at rest', async () => {
    const a = await node(namespace(), {
      errorSyncIntervalMs: 1000,
      quietSyncIntervalMs: 5000,
      panel: { shouldTrip: rateTripFunc(0.5, 1000) }, // no trip here: only what is flushed when
    });
    a.succeed(1);
    await a.sync.flushDue(); // a new key is flushed at once, to learn its stored state
    const sent = () => a.sync.stats().commands;
    const before = sent();
    a.succeed(150);
    await a.sync.flushDue();
    expect(sent()).toBe(before);
    a.fail(1); // one error in 152 calls: too rare for an entry among the erring nodes
    await a.sync.flushDue();
    expect(sent()).toBe(before);
    a.clock.advance(1000);
    await a.sync.flushDue();
    expect(sent()).toBe(before + 1);
    a.fail(30); // 20 % of its recent calls fail: an entry, below the trip (50 %), goes at once
    await a.sync.flushDue();
    expect(sent()).toBe(before + 2);
    a.fail(1);
    await a.sync.flushDue(); // the same badness, give or take: its errors wait
    expect(sent()).toBe(before + 2);
    a.clock.advance(3000);
    a.fail(20); // now this node is failing: its errors go at once, and again at once
    await a.sync.flushDue();
    a.fail(1);
    await a.sync.flushDue();
    expect(sent()).toBe(before + 4);
    a.clock.advance(20_000);
    a.succeed(10);
    await a.sync.flushDue(); // its entry is cleared at once
    expect(sent()).toBe(before + 5);
    a.succeed(10);
    await a.sync.flushDue();
    expect(sent()).toBe(before + 5);
    a.clock.advance(5000);
    await a.sync.flushDue();
    expect(sent()).toBe(before + 6);
    a.clock.advance(20_000);
    await a.sync.flushDue();
    expect(sent()).toBe(before + 6);
  });

  it("writes a badness that wobbles below the trip at the errors' cadence, and a crossing of the trip at once", async () => {
    const a = await node(namespace(), {
      errorSyncIntervalMs: 1000,
      panel: { shouldTrip: rateTripFunc(0.5, 1000) },
    });
    a.succeed(70);
    a.fail(30); // badness 0.3: its entry goes with the key's first flush
    await a.sync.flushDue();
    const sent = () => a.sync.stats().commands;
    const before = sent();
    a.fail(10); // 0.36: a step up, still below the trip
    await a.sync.flushDue();
    a.succeed(60); // 0.24: a step down
    await a.sync.flushDue();
    expect(sent()).toBe(before);
    a.clock.advance(1000);
    a.fail(30); // the errors' cadence: the entry goes with the errors
    await a.sync.flushDue();
    expect(sent()).toBe(before + 1);
    a.fail(200); // past the trip: at once
    await a.sync.flushDue();
    expect(sent()).toBe(before + 2);
  });

  it('moves only the score of its entry while the badness stays on one side of the trip, and another node counts it by its own threshold', async () => {
    const n = namespace();
    const k = breakerKeys(n);
    const a = await node(n, { errorSyncIntervalMs: 10, panel: { shouldTrip: rateTripFunc(0.5, 1000) } });
    const b = await node(n, { panel: { shouldTrip: rateTripFunc(0.4, 1000) } });
    a.succeed(70);
    a.fail(30);
    await a.sync.flushDue();
    const entry = async () => [
      await a.redis.zscore(k.failing, a.sync.nodeId),
      await a.redis.zscore(k.failingAt, a.sync.nodeId),
    ];
    const [score, at] = await entry();
    expect(score).toBe('300');
    b.succeed(1);
    await b.sync.flushNow();
    expect(b.panel.breaker(KEY)?.fleetView()).toMatchObject({ failingNodes: 0 });
    a.fail(20); // 50 of 120: 417, a step up and still below a's trip (500)
    a.clock.advance(10);
    await a.sync.flushDue();
    expect(await entry()).toEqual(['417', at]);
    await b.sync.flushNow();
    expect(b.panel.breaker(KEY)?.fleetView()).toMatchObject({ failingNodes: 1 }); // 417 is past b's 400
  });

  it('keeps the fleet view of a quiet key fresh until its next quiet flush', async () => {
    const n = namespace();
    const a = await node(n, { quietSyncIntervalMs: 5000 });
    const b = await node(n, { quietSyncIntervalMs: 5000 });
    b.succeed(8);
    await b.sync.flushNow();
    a.succeed(1);
    await a.sync.flushNow();
    a.clock.advance(5500);
    expect(a.panel.breaker(KEY)?.fleetView()).toMatchObject({ successes: 8 });
  });
});

describe('a threshold changed at run time', () => {
  it("counts the others by the new threshold, and makes an open decided before the quorum arrived the fleet's", async () => {
    const n = namespace();
    let errRate = 0.5;
    const o: SyncNodeOptions = { panel: { shouldTripWithKey: () => rateTripFunc(errRate, 20) } };
    const fleet = [await node(n, o), await node(n, o), await node(n, o)];
    const [a, b, c] = fleet as [SyncNode, SyncNode, SyncNode];
    // Every node fails 35 % of its calls: under 50 %, nobody trips; each reports its badness.
    for (const x of fleet) {
      x.succeed(13);
      x.fail(7);
      await x.sync.flushNow();
    }
    await a.sync.flushNow();
    expect(a.panel.breaker(KEY)?.fleetView()?.failingNodes).toBe(0);
    // The threshold drops to 25 %: A's next failure trips its own window at once, before any flush.
    errRate = 0.25;
    a.fail(1);
    expect(a.transitions).toEqual([`${KEY} 2>0 trip`]);
    // Its next flush counts B and C by the new threshold: the open becomes the fleet's, and B and C hear it.
    const heard = [b.changed(), c.changed()];
    await a.sync.flushNow();
    expect(a.panel.breaker(KEY)?.fleetView()?.failingNodes).toBe(2);
    expect(a.panel.breaker(KEY)?.isFleetScoped()).toBe(true);
    expect(await Promise.all(heard)).toEqual([`${KEY} 2>0 remote fleet`, `${KEY} 2>0 remote fleet`]);
  });
});

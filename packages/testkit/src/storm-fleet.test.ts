import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from './ports.js';
import { type RefuseServer, startRefuseServer } from './refuse-server.js';
import { StormFleet } from './storm-fleet.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function fleetOn(target: string): Promise<StormFleet> {
  const fleet = await StormFleet.start(2, target);
  cleanups.push(() => fleet.close());
  return fleet;
}

describe('StormFleet', () => {
  it("runs each storm in every process at once, and reports each one's suite counts", async () => {
    const servers: RefuseServer[] = [await startRefuseServer(), await startRefuseServer()];
    cleanups.push(() => Promise.all(servers.map((s) => s.close())));
    const fleet = await fleetOn(`ipv4:${servers.map((s) => s.address).join(',')}`);
    const suite = { retryStopErrRate: false, instanceCBConfig: { enable: false } } as const;
    const without = await fleet.storm({ suite: { ...suite, retryBudget: false }, calls: 10, inFlight: 4 });
    expect(without.map(({ ms, ...counts }) => counts)).toEqual([
      { calls: 10, failed: 10, retries: 20, budgetRefusals: 0, methodStops: 0 },
      { calls: 10, failed: 10, retries: 20, budgetRefusals: 0, methodStops: 0 },
    ]);
    // Two processes × 10 calls × 3 attempts, two streams each (grpc-js retries a refused stream once).
    expect(servers.reduce((n, s) => n + s.refused(), 0)).toBe(120);
    // The same processes again, each with a new suite: no retry is left in a budget of zero.
    const none = { percentCanRetry: 0, minRetriesPerSec: 0 };
    const refused = await fleet.storm({ suite: { ...suite, retryBudget: none }, calls: 5, inFlight: 1 });
    expect(refused.map((r) => [r.retries, r.budgetRefusals])).toEqual([
      [0, 5],
      [0, 5],
    ]);
  });

  it('rejects a storm whose processes cannot connect, naming the process', async () => {
    const fleet = await fleetOn(`127.0.0.1:${await freePort()}`);
    await expect(fleet.storm({ suite: {}, calls: 1, inFlight: 1, connectMs: 200 })).rejects.toThrow(
      /^storm node [01]: not connected to 127\.0\.0\.1:\d+: /,
    );
  });
});

import { loopClock } from '@cbsuite/core';
import { type EchoServer, grpc, type SayReply, say } from '@cbsuite/testkit/echo.js';
import { afterEach, describe, expect, it } from 'vitest';
import type { CBEjectionEvent } from './events.js';
import { robustInstance } from './robust-instance.js';
import { type Cluster, startCluster } from './test-support/instance-cluster.js';

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

/** Fails `percent` of its calls with UNAVAILABLE, spread evenly. */
const failingPercent = (s: EchoServer, percent: number) =>
  s.setBehavior(() => (s.hits.Say % 10 < percent / 10 ? { code: grpc.status.UNAVAILABLE } : undefined));

/** Calls one at a time; returns the replies. */
async function sequential(c: Cluster, n: number): Promise<(SayReply | undefined)[]> {
  const out: (SayReply | undefined)[] = [];
  for (let i = 0; i < n; i++) out.push((await say(c.client, 'x')).value);
  return out;
}

describe('outlier ejection with real servers', () => {
  const base = {
    instanceFailureCodes: ['UNAVAILABLE'] as const,
    instanceCBConfig: { minSample: 1_000_000 },
    maxAttempts: 1,
  };

  it('five instances, one failing 30 % of calls: success-rate ejection ejects exactly that one, and it gets no calls', async () => {
    cluster = await startCluster({ ...base, outlierDetection: { successRateEjection: {} } }, 5);
    const { servers, cbs, clock } = cluster;
    const bad = servers[3] as EchoServer;
    failingPercent(bad, 30);
    const ejections: CBEjectionEvent[] = [];
    cbs.onEjection((e) => ejections.push(e));
    await sequential(cluster, 600);
    expect(ejections).toEqual([]);
    clock.advance(10_000);
    await sequential(cluster, 1);
    expect(ejections).toMatchObject([{ type: 'ejection', key: bad.address, ejected: true, reason: 'successRate' }]);
    const before = bad.hits.Say;
    const replies = await sequential(cluster, 40);
    expect(bad.hits.Say).toBe(before);
    expect(replies.every((r) => r !== undefined)).toBe(true);
    expect(cbs.stats().instance).toMatchObject({ ejections: 1, ejected: [bad.address] });
    expect(cbs.recentEvents().filter((e) => e.type === 'ejection')).toHaveLength(1);
  });

  it('two bad instances with maxEjectionPercent 20: only one is ejected at a time', async () => {
    cluster = await startCluster(
      {
        ...base,
        outlierDetection: { failurePercentageEjection: { threshold: 20 }, maxEjectionPercent: 20 },
      },
      5,
    );
    const { servers, cbs, clock } = cluster;
    failingPercent(servers[1] as EchoServer, 30);
    failingPercent(servers[4] as EchoServer, 30);
    let most = 0;
    cbs.onEjection(() => {
      most = Math.max(most, cbs.stats().instance.ejected.length);
    });
    for (let round = 0; round < 5; round++) {
      await sequential(cluster, 300);
      clock.advance(10_000);
      await sequential(cluster, 1);
    }
    expect(cbs.stats().instance.ejections).toBeGreaterThanOrEqual(1);
    expect(most).toBe(1);
  });

  it('robustInstance(): a 10× slow instance among fast ones is skipped within 2 s, and back within 5 s of healing', async () => {
    const preset = robustInstance();
    cluster = await startCluster({ ...preset, instanceBreaker: { ...preset.instanceBreaker, now: loopClock } });
    const { servers, cbs, client } = cluster;
    for (const s of servers) s.setBehavior(() => ({ delayMs: 5 }));
    const slow = servers[0] as EchoServer;
    const changes: { e: CBEjectionEvent; at: number }[] = [];
    cbs.onEjection((e) => changes.push({ e, at: performance.now() }));
    let stop = false;
    const errors: string[] = [];
    const worker = async () => {
      while (!stop) {
        const r = await say(client, 'x', { deadline: Date.now() + 500 });
        if (r.error) errors.push(r.error.message);
      }
    };
    const workers = Promise.all(Array.from({ length: 10 }, worker));
    const waitFor = (test: () => boolean) =>
      new Promise<void>((resolve) => {
        const off = cbs.onEjection(() => {
          if (test()) {
            off();
            resolve();
          }
        });
      });
    const ejected = waitFor(() => changes.some((c) => c.e.ejected && c.e.key === slow.address));
    const slowSince = performance.now();
    slow.setBehavior(() => ({ delayMs: 50 }));
    await ejected;
    const skippedAfterMs = (changes.find((c) => c.e.ejected)?.at ?? Number.POSITIVE_INFINITY) - slowSince;
    expect(skippedAfterMs).toBeLessThan(2000);
    expect(changes.every((c) => c.e.key === slow.address && c.e.reason !== 'successRate')).toBe(true);

    const back = waitFor(() => changes.at(-1)?.e.ejected === false);
    const healedAt = performance.now();
    slow.setBehavior(() => ({ delayMs: 5 }));
    await back;
    const hitsAtReturn = slow.hits.Say;
    expect(performance.now() - healedAt).toBeLessThan(5000);
    await new Promise<void>((resolve) => {
      const check = () => (slow.hits.Say > hitsAtReturn + 5 ? resolve() : setImmediate(check));
      check();
    });
    stop = true;
    await workers;
    expect(errors).toEqual([]);
  });
});

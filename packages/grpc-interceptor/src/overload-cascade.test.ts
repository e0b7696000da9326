import { loopClock, State } from '@cbsuite/core';
import { type EchoServer, grpc, say } from '@cbsuite/testkit/echo.js';
import { afterEach, describe, expect, it } from 'vitest';
import type { CBStateChangeEvent } from './events.js';
import { robustInstance } from './robust-instance.js';
import { grpcJsAtLeast } from './test-support/grpc-version.js';
import { type Cluster, startCluster } from './test-support/instance-cluster.js';

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

/** A server that takes at most `limit` calls at once, answering RESOURCE_EXHAUSTED beyond, each after `delayMs()`. */
function limited(s: EchoServer, limit: number, delayMs: () => number): void {
  let inFlight = 0;
  s.setBehavior(() => {
    if (inFlight >= limit) return { code: grpc.status.RESOURCE_EXHAUSTED, details: 'over the limit' };
    inFlight++;
    const ms = delayMs();
    setTimeout(() => inFlight--, ms);
    return { delayMs: ms };
  });
}

describe('an overload cascade, with robustInstance()', () => {
  // Before 1.10.4 the grpc-js client sent an RST_STREAM after every call the
  // server had ended (grpc/grpc-node#2695). The RESOURCE_EXHAUSTED answers
  // here are thousands of such calls a second, past the stream-reset rate
  // limit of Node's HTTP/2 server (its rapid-reset mitigation), which closes
  // the connection with code 2: every call on it fails with `INTERNAL
  // Received RST_STREAM with code 2`, a reset the instance level rightly
  // counts as a connection failure, and plain round_robin loses those calls
  // too. Not the suite's doing; the grpc-js under test must be 1.10.4 or later.
  it.skipIf(!grpcJsAtLeast('1.10.4'))(
    'one of three limited servers turns slow: the healthy ones are never all tripped, nothing is dropped, the service breaker stays closed',
    async () => {
      const preset = robustInstance();
      cluster = await startCluster({
        ...preset,
        instanceBreaker: { ...preset.instanceBreaker, now: loopClock },
        // The service breaker as Kitex sets it, over a small sample so that drops would open it.
        defaultServiceCBConfig: { errRate: 0.5, minSample: 50 },
      });
      const { servers, cbs, client } = cluster;
      const slow = servers[0] as EchoServer;
      const healthy = servers.slice(1);
      let slowMs = 20;
      limited(slow, 30, () => slowMs);
      // The client and the servers share one event loop. On a starved CPU its
      // turns come late and the 50 workers move in batches: one healthy server
      // was measured holding 30 calls while the other held 16, past a limit of
      // 30 that the even share (25) stays under, and those real overloads
      // tripped it. A limit of 40 covers that measured skew.
      for (const s of healthy) limited(s, 40, () => 20);
      const events: CBStateChangeEvent[] = [];
      let worstHealthyTripped = 0;
      cbs.onStateChange((e) => {
        events.push(e);
        const tripped = healthy.filter(
          (s) => (cbs.instancePanel.breaker(s.address)?.state() ?? State.Closed) !== State.Closed,
        ).length;
        worstHealthyTripped = Math.max(worstHealthyTripped, tripped);
      });
      let calls = 0;
      let failed = 0;
      const codes = new Map<string, number>();
      let stop = false;
      const worker = async () => {
        while (!stop) {
          // Far past the slow server's 200 ms: a stall of the shared event loop must not time out calls on every instance.
          const r = await say(client, 'x', { deadline: Date.now() + 5000 });
          calls++;
          if (r.error) {
            failed++;
            const k = `${grpc.status[r.error.code]} ${r.error.details}`;
            codes.set(k, (codes.get(k) ?? 0) + 1);
          }
          if (calls === 1000) slowMs = 200;
          if (calls >= 5000) stop = true;
        }
      };
      await Promise.all(Array.from({ length: 50 }, worker));
      expect(events.filter((e) => e.level === 'service')).toEqual([]);
      expect(cbs.stats().instance.drops, JSON.stringify([...codes])).toBe(0);
      const story = `${events.map((e) => `${e.level} ${e.key} ${e.fromName}->${e.toName} (${e.cause})`).join('; ')} codes ${JSON.stringify([...codes])} slow ${slow.address}`;
      expect(worstHealthyTripped, story).toBeLessThan(2);
      expect(failed / calls, JSON.stringify([...codes])).toBeLessThan(0.05);
      // The slow instance was taken out of rotation, by its breaker or by the latency rule.
      expect(
        events.some((e) => e.key === slow.address && e.toName === 'OPEN') || cbs.stats().instance.ejections > 0,
      ).toBe(true);
    },
  );
});

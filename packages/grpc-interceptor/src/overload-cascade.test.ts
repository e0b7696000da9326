import { loopClock, State } from '@cbsuite/core';
import type { Behaviour } from '@cbsuite/testkit/behaviour.js';
import { type ServerProcess, startServerProcess } from '@cbsuite/testkit/child-server.js';
import { EchoClient, grpc, ROUND_ROBIN, say } from '@cbsuite/testkit/echo.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CBSuite } from './cb-suite.js';
import type { CBStateChangeEvent } from './events.js';
import { robustInstance } from './robust-instance.js';
import { grpcJsAtLeast } from './test-support/grpc-version.js';

/** Each server takes at most 30 calls at once, answering RESOURCE_EXHAUSTED beyond, each after 20 ms. */
const HEALTHY: Behaviour = { failRate: 0, code: 'INTERNAL', delayMs: 20, limit: 30 };
/** The same server turned slow: 200 ms an answer, so its 30 places fill. */
const SLOW: Behaviour = { ...HEALTHY, delayMs: 200 };
const WORKERS = 50;
const CALLS = 5000;
/** The slow server turns slow after this many calls. */
const TURNS_SLOW_AT = 1000;

let servers: ServerProcess[] = [];
beforeAll(async () => {
  servers = await Promise.all([1, 2, 3].map(() => startServerProcess(1, 20)));
}, 30_000);
afterAll(async () => {
  await Promise.all(servers.map((s) => s.kill()));
});

interface Run {
  readonly completed: number;
  readonly codes: Map<string, number>;
}

/**
 * 50 workers make 5,000 unary calls with a 500 ms deadline through `client`;
 * the first server turns slow after 1,000.
 */
async function run(client: EchoClient): Promise<Run> {
  await Promise.all(servers.map((s) => s.behave(HEALTHY)));
  let calls = 0;
  let completed = 0;
  const codes = new Map<string, number>();
  const worker = async () => {
    while (calls < CALLS) {
      const r = await say(client, 'x', { deadline: Date.now() + 500 });
      calls++;
      if (r.error === undefined) completed++;
      else {
        const k = `${grpc.status[r.error.code]} ${r.error.details}`;
        codes.set(k, (codes.get(k) ?? 0) + 1);
      }
      if (calls === TURNS_SLOW_AT) await servers[0]?.behave(SLOW);
    }
  };
  await Promise.all(Array.from({ length: WORKERS }, worker));
  return { completed, codes };
}

async function warm(client: EchoClient): Promise<void> {
  for (let i = 0; i < 30; i++) await say(client, 'warm-up');
}

const target = () => `ipv4:${servers.flatMap((s) => s.addresses).join(',')}`;

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
    'three limited servers in child processes, one turns slow: the healthy ones are never all tripped, nothing is dropped, the service breaker stays closed, and at least 95 % of what plain round_robin completes is completed',
    async () => {
      const plain = new EchoClient(target(), grpc.credentials.createInsecure(), ROUND_ROBIN);
      await warm(plain);
      const roundRobin = await run(plain);
      plain.close();

      const preset = robustInstance();
      const cbs = new CBSuite(undefined, {
        ...preset,
        instanceBreaker: { ...preset.instanceBreaker, now: loopClock },
        // The service breaker as Kitex sets it, over a small sample so that drops would open it.
        defaultServiceCBConfig: { errRate: 0.5, minSample: 50 },
      });
      const client = new EchoClient(target(), grpc.credentials.createInsecure(), {
        ...cbs.channelOptions(),
        interceptors: [cbs.interceptor()],
      });
      try {
        await warm(client);
        const [slow, ...healthy] = servers.map((s) => s.addresses[0] as string);
        const events: CBStateChangeEvent[] = [];
        let worstHealthyTripped = 0;
        cbs.onStateChange((e) => {
          events.push(e);
          const tripped = healthy.filter(
            (a) => (cbs.instancePanel.breaker(a)?.state() ?? State.Closed) !== State.Closed,
          ).length;
          worstHealthyTripped = Math.max(worstHealthyTripped, tripped);
        });
        const suite = await run(client);
        const story = `${events.map((e) => `${e.level} ${e.key} ${e.fromName}->${e.toName} (${e.cause})`).join('; ')}; slow ${slow}; codes ${JSON.stringify([...suite.codes])}`;
        expect(
          events.filter((e) => e.level === 'service'),
          story,
        ).toEqual([]);
        expect(cbs.stats().instance.drops, story).toBe(0);
        expect(worstHealthyTripped, story).toBeLessThan(2);
        expect(suite.completed / CALLS, story).toBeGreaterThan(0.95);
        expect(suite.completed, `round_robin completed ${roundRobin.completed}; ${story}`).toBeGreaterThanOrEqual(
          0.95 * roundRobin.completed,
        );
        // The slow instance was taken out of rotation, by its breaker or by the latency rule.
        expect(
          events.some((e) => e.key === slow && e.toName === 'OPEN') || cbs.stats().instance.ejections > 0,
          story,
        ).toBe(true);
      } finally {
        client.close();
        cbs.close();
      }
    },
    60_000,
  );
});

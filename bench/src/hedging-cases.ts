// Hedged requests against a service with one slow instance: three echo
// instances, each in a child process of its own, answer after BASE_MS, but
// one of them answers after 10 × BASE_MS on 15 % of its calls (5 % of all
// calls). The same suite setup runs with hedging off and on, alternating
// (off, on, on, off); the figures are the latency percentiles of each and
// the attempts per call hedging costs.
import { CBSuite, type CBSuiteOptions } from '@cbsuite/grpc-interceptor';
import { IMMEDIATE } from '@cbsuite/testkit/behaviour.js';
import { type ServerProcess, startServerProcess } from '@cbsuite/testkit/child-server.js';
import { EchoClient, grpc, say } from '@cbsuite/testkit/echo.js';
import type { Case } from './core-cases.js';
import { percentile } from './harness.js';

const BASE_MS = 50;
const SLOW_MS = 10 * BASE_MS;
/** Hedge after 1.5 × the usual answer time: past nearly every fast call, well before a slow one. */
const DELAY_MS = 1.5 * BASE_MS;
const IN_FLIGHT = 8;

async function run(target: string, options: CBSuiteOptions, calls: number) {
  const cbs = new CBSuite(undefined, {
    defaultServiceCBConfig: { minSample: 1_000_000 },
    idempotent: () => true,
    ...options,
  });
  const client = new EchoClient(target, grpc.credentials.createInsecure(), {
    ...cbs.channelOptions(),
    interceptors: [cbs.interceptor()],
  });
  // Warm up: a connection to each instance.
  for (let i = 0; i < 30; i++) await say(client, 'warm-up');
  const before = cbs.stats().instance.attempts;
  const latencies: number[] = [];
  let next = 0;
  let failed = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next++ < calls) {
        const started = performance.now();
        const r = await say(client, 'hedge');
        latencies.push(performance.now() - started);
        if (r.error) failed++;
      }
    }),
  );
  if (failed > 0) throw new Error(`${failed} calls failed`);
  const s = cbs.stats();
  client.close();
  cbs.close();
  return { latencies, hedges: s.retry.hedges, arrivals: s.instance.attempts - before };
}

export const hedgingCases: Record<string, Case> = {
  'hedging/slow-instance': async (_o, smoke) => {
    const fast = { ...IMMEDIATE, delayMs: BASE_MS };
    const servers: ServerProcess[] = await Promise.all([1, 2, 3].map(() => startServerProcess()));
    await Promise.all(servers.map((p, i) => p.behave(i === 2 ? { ...fast, slowRate: 0.15, slowMs: SLOW_MS } : fast)));
    const target = `ipv4:${servers.map((p) => p.addresses[0]).join(',')}`;
    const calls = smoke ? 100 : 1500;
    const off: number[] = [];
    const on: number[] = [];
    let hedges = 0;
    let onCalls = 0;
    let onArrivals = 0;
    for (const hedged of [false, true, true, false]) {
      const r = await run(target, hedged ? { hedging: { delayMs: DELAY_MS } } : {}, calls);
      (hedged ? on : off).push(...r.latencies);
      if (hedged) {
        hedges += r.hedges;
        onCalls += calls;
        onArrivals += r.arrivals;
      }
    }
    await Promise.all(servers.map((p) => p.kill()));
    const offP99 = percentile(off, 99);
    const onP99 = percentile(on, 99);
    return {
      offP50: percentile(off, 50),
      offP99,
      offP999: percentile(off, 99.9),
      onP50: percentile(on, 50),
      onP99,
      onP999: percentile(on, 99.9),
      p99Ratio: offP99 / onP99,
      attempts: (onCalls + hedges) / onCalls,
      arrivals: onArrivals / onCalls,
    };
  },
};

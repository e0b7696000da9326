// A retry storm: clients against a downstream whose every instance refuses
// every stream (REFUSED_STREAM, an attempt any method may retry), with and
// without the suite's retry budget. Attempts per logical call is what the
// downstream takes; without a budget each call makes maxAttempts.
import { CBSuite, type CBSuiteOptions } from '@cbsuite/grpc-interceptor';
import { EchoClient, grpc, say } from '@cbsuite/testkit/echo.js';
import { startRefuseServer } from '@cbsuite/testkit/refuse-server.js';
import type { Case } from './core-cases.js';

/** Suite attempts and server streams per logical call, for `calls` calls with 16 in flight. */
async function storm(target: string, streams: () => number, options: CBSuiteOptions, calls: number) {
  const cbs = new CBSuite(undefined, { defaultServiceCBConfig: { minSample: 1_000_000 }, ...options });
  const client = new EchoClient(target, grpc.credentials.createInsecure(), {
    ...cbs.channelOptions(),
    interceptors: [cbs.interceptor()],
  });
  await new Promise<void>((resolve, reject) =>
    client.waitForReady(Date.now() + 10_000, (err) => (err ? reject(err) : resolve())),
  );
  const before = streams();
  let next = 0;
  let failed = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next++ < calls) if ((await say(client, 'storm')).error) failed++;
    }),
  );
  const ms = performance.now() - started;
  if (failed !== calls) throw new Error(`${calls - failed} calls succeeded against a refusing downstream`);
  const s = cbs.stats().retry;
  client.close();
  cbs.close();
  return {
    attempts: (calls + s.retries) / calls,
    streams: (streams() - before) / calls,
    retries: s.retries,
    refusals: s.budgetRefusals,
    ms,
    callsPerSec: calls / (ms / 1000),
  };
}

export const retryCases: Record<string, Case> = {
  'retry/storm': async (_o, smoke) => {
    const servers = [await startRefuseServer(), await startRefuseServer()];
    const target = `ipv4:${servers.map((s) => s.address).join(',')}`;
    const streams = () => servers.reduce((n, s) => n + s.refused(), 0);
    const calls = smoke ? 200 : 20_000;
    // The retry stop and the instance breakers (which trip on refused streams) are off in
    // the first two, so that the budget alone is measured; the last has every default.
    const only = { retryStopErrRate: false, instanceCBConfig: { enable: false } } as const;
    const without = await storm(target, streams, { ...only, retryBudget: false }, calls);
    const withBudget = await storm(target, streams, only, calls);
    const defaults = await storm(target, streams, {}, calls);
    await Promise.all(servers.map((s) => s.close()));
    // Finagle's budget allows, over any ttl (10 s), minRetriesPerSec × ttl (100) retries plus 0.2 per call. Its
    // slices are aligned to the clock, so the reserve's withdrawals expire after 9 to 10 s: over a run of T s the
    // reserve gives at most 100 × (1 + floor(T / 9)) retries, whatever the traffic. Less those, the budget's share of
    // the calls is what is left, and that is what must stay at or below 0.2 per call.
    const reserve = 100 * (1 + Math.floor(withBudget.ms / 9000));
    return {
      noBudgetAttempts: without.attempts,
      noBudgetStreams: without.streams,
      budgetAttempts: withBudget.attempts,
      budgetBound: 1.2 + reserve / calls,
      budgetBeyondReserve: (calls + Math.max(0, withBudget.retries - reserve)) / calls,
      budgetSeconds: withBudget.ms / 1000,
      budgetStreams: withBudget.streams,
      budgetRefusals: withBudget.refusals,
      defaultsAttempts: defaults.attempts,
      callsPerSec: withBudget.callsPerSec,
    };
  },
};

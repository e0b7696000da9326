import { EchoClient, EchoService, grpc, type SayReply, type SayRequest, say } from '@cbsuite/testkit/echo.js';
import { ManualClock } from '@cbsuite/testkit/manual-clock.js';
import { type RefuseServer, startRefuseServer } from '@cbsuite/testkit/refuse-server.js';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { CBSuite } from './cb-suite.js';
import { chainStopHandlers, inRetriedRequest, RETRY_HEADER, runInRequest } from './chain-stop.js';
import type { CBRetryEvent } from './events.js';
import { CBSuiteMetrics } from './prometheus.js';
import type { CBSuiteOptions } from './suite-options.js';

// The suite's stops around the retry rule, against a downstream whose every
// instance refuses every stream (REFUSED_STREAM): an attempt its application
// never saw, which the rule retries for any method.

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function deadDownstream(options: CBSuiteOptions) {
  const clock = new ManualClock();
  const cbs = new CBSuite(undefined, {
    defaultServiceCBConfig: { minSample: 100_000 },
    instanceCBConfig: { minSample: 100_000 },
    retryStopErrRate: false,
    ...options,
    serviceBreaker: { now: clock.now, ...options.serviceBreaker },
  });
  const servers: RefuseServer[] = [await startRefuseServer(), await startRefuseServer()];
  cleanups.push(() => Promise.all(servers.map((s) => s.close())));
  const client = new EchoClient(`ipv4:${servers.map((s) => s.address).join(',')}`, grpc.credentials.createInsecure(), {
    ...cbs.channelOptions(),
    interceptors: [cbs.interceptor()],
  });
  const events: CBRetryEvent[] = [];
  cbs.onRetry((e) => events.push(e));
  cleanups.push(
    () => client.close(),
    () => cbs.close(),
  );
  // Connect first, so that every test call is refused by a server.
  await new Promise<void>((resolve, reject) =>
    client.waitForReady(Date.now() + 10_000, (err) => (err ? reject(err) : resolve())),
  );
  return { cbs, client, clock, events, servers };
}

const outcomes = (events: CBRetryEvent[]) => events.map((e) => `${e.attempt}:${e.outcome}`);

describe('the retry budget', () => {
  it('retries while the budget allows, then ends calls with their own error, counting each refusal', async () => {
    const { cbs, client, clock, events } = await deadDownstream({
      retryBudget: { percentCanRetry: 0.5, minRetriesPerSec: 0, ttlMs: 1000 },
    });
    const before = cbs.stats().retry;
    const r1 = await say(client, 'one'); // deposits 0.5: no retry
    expect(outcomes(events.splice(0))).toEqual(['1:budget']);
    const r2 = await say(client, 'two'); // deposits 0.5 more: one retry, then none
    expect(outcomes(events.splice(0))).toEqual(['1:retried', '2:budget']);
    for (const r of [r1, r2]) {
      expect(r.error?.code).toBe(grpc.status.UNAVAILABLE);
      expect(r.error?.details).toBe('Stream refused by server');
    }
    const after = cbs.stats().retry;
    expect(after.retries - before.retries).toBe(1);
    expect(after.budgetRefusals - before.budgetRefusals).toBe(2);
    clock.advance(1000);
    await say(client, 'three');
    expect(outcomes(events.splice(0))).toEqual(['1:budget']);

    // The metrics say the same, by reason.
    const registry = new Registry();
    new CBSuiteMetrics({ registry }).add(cbs, 'r');
    const text = await registry.metrics();
    const series = (name: string) => text.split('\n').filter((l) => l.startsWith(name));
    expect(series('cbsuite_retry_refusals_total{')).toEqual([
      'cbsuite_retry_refusals_total{suite="r",reason="budget"} 3',
      'cbsuite_retry_refusals_total{suite="r",reason="method_failing"} 0',
      'cbsuite_retry_refusals_total{suite="r",reason="chain_stop"} 0',
      'cbsuite_retry_refusals_total{suite="r",reason="deadline"} 0',
    ]);
    expect(series('cbsuite_instance_retries_total{')).toEqual(['cbsuite_instance_retries_total{suite="r"} 1']);
    expect(series('cbsuite_retry_pushbacks_total{')).toEqual(['cbsuite_retry_pushbacks_total{suite="r"} 0']);
  });

  it('holds attempts per call of idempotent calls to 1 + percentCanRetry + reserve / calls; maxAttempts without it', async () => {
    const calls = 50;
    const attemptsPerCall = async (options: CBSuiteOptions) => {
      const { cbs, client, servers } = await deadDownstream({ idempotent: () => true, ...options });
      for (let i = 0; i < calls; i++) expect((await say(client, `${i}`)).error?.code).toBe(grpc.status.UNAVAILABLE);
      const attempts = calls + cbs.stats().retry.retries;
      // grpc-js retries a refused stream once on its own: the downstream sees two streams per attempt.
      expect(servers.reduce((n, s) => n + s.refused(), 0)).toBe(2 * attempts);
      return attempts / calls;
    };
    // A reserve of minRetriesPerSec × ttl = 1 retry, and 0.2 per call; the clock stands still.
    const budget = { percentCanRetry: 0.2, minRetriesPerSec: 1, ttlMs: 1000 };
    expect(await attemptsPerCall({ retryBudget: budget })).toBe(1 + 0.2 + 1 / calls);
    expect(await attemptsPerCall({ retryBudget: false })).toBe(3);
  });

  it('is off with retryBudget: false: every call retries up to maxAttempts', async () => {
    const off = await deadDownstream({ retryBudget: false });
    await say(off.client, 'x');
    expect(outcomes(off.events)).toEqual(['1:retried', '2:retried']);
    expect(off.cbs.stats().retry.budgetRefusals).toBe(0);
  });
});

describe('the backoff', () => {
  it('waits baseMs × 2^(n−1) before the n-th retry', async () => {
    const { client, events } = await deadDownstream({ retryBackoff: { baseMs: 5, jitter: 0 } });
    await say(client, 'x');
    expect(events.map((e) => [e.outcome, e.delayMs])).toEqual([
      ['retried', 5],
      ['retried', 10],
    ]);
  });

  it('does not retry when the wait would pass the deadline', async () => {
    const { cbs, client, events } = await deadDownstream({ retryBackoff: { baseMs: 60_000, jitter: 0 } });
    const r = await say(client, 'x', { deadline: Date.now() + 30_000 });
    expect(r.error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(outcomes(events)).toEqual(['1:deadline']);
    expect(cbs.stats().retry.deadlineStops).toBe(1);
  });

  it("ends the call at once with the caller's cancel during a wait", async () => {
    const { cbs, client, events } = await deadDownstream({ retryBackoff: { baseMs: 60_000, jitter: 0 } });
    const error = await new Promise<grpc.ServiceError>((resolve) => {
      const call = client.Say({ text: 'x' }, (err) => resolve(err as grpc.ServiceError));
      cbs.onRetry(() => call.cancel());
    });
    expect(error.code).toBe(grpc.status.CANCELLED);
    expect(outcomes(events)).toEqual(['1:retried']);
  });
});

describe('the retry stop on a failing method', () => {
  it('stops retrying once the service window holds 10 samples at or above retryStopErrRate', async () => {
    const { cbs, client, events } = await deadDownstream({ retryStopErrRate: 0.5, retryBudget: false });
    const key = cbs.serviceKey('/echo.v1.Echo/Say');
    for (let i = 0; cbs.servicePanel.getMetricer(key).samples() < 10; i++) await say(client, `x${i}`);
    events.length = 0;
    await say(client, 'stopped');
    expect(outcomes(events)).toEqual(['1:methodFailing']);
    expect(cbs.stats().retry.methodStops).toBe(1);
  });
});

describe('chain stop', () => {
  it('marks every attempt after the first with its retry number', async () => {
    const { client, servers } = await deadDownstream({ retryBudget: false });
    await say(client, 'x');
    // Three attempts of the suite, each refused twice (grpc-js retries a refused stream once on its own).
    const seen = servers.flatMap((s) => s.retryHeaders.map((h) => h ?? '-')).sort();
    expect(seen).toEqual(['-', '-', '1', '1', '2', '2']);
  });

  /** A middle tier whose Say calls the refusing downstream through its own suite, with chain stop on its handlers. */
  async function middleTier() {
    const down = await deadDownstream({ retryBudget: false });
    const server = new grpc.Server();
    server.addService(
      EchoService,
      chainStopHandlers({
        Say: (call: grpc.ServerUnaryCall<SayRequest, SayReply>, cb: grpc.sendUnaryData<SayReply>) => {
          const retried = inRetriedRequest();
          down.client.Say({ text: call.request.text }, () => cb(null, { text: String(retried), instance: '' }));
        },
      }),
    );
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );
    const client = new EchoClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    cleanups.push(
      () => server.forceShutdown(),
      () => client.close(),
    );
    return { down, client };
  }

  it('a suite called while handling a retried request does not retry, and passes the mark on', async () => {
    const { down, client } = await middleTier();
    const md = new grpc.Metadata();
    md.set(RETRY_HEADER, '1');
    const r = await say(client, 'x', {}, md);
    expect(r.value?.text).toBe('true');
    expect(outcomes(down.events)).toEqual(['1:chainStop']);
    expect(down.cbs.stats().retry.chainStops).toBe(1);
    expect(down.servers.flatMap((s) => s.retryHeaders)).toEqual(['1', '1']);
  });

  it('a suite called while handling a first attempt retries as usual', async () => {
    const { down, client } = await middleTier();
    const r = await say(client, 'x');
    expect(r.value?.text).toBe('false');
    expect(outcomes(down.events)).toEqual(['1:retried', '2:retried']);
  });

  it('is off with chainStop: false', async () => {
    const down = await deadDownstream({ retryBudget: false, chainStop: false });
    const md = new grpc.Metadata();
    md.set(RETRY_HEADER, '1');
    await runInRequest(md, () => say(down.client, 'x'));
    expect(outcomes(down.events)).toEqual(['1:retried', '2:retried']);
  });
});

describe('pushback on a rejection', () => {
  it("an OPEN service breaker's rejection carries grpc-retry-pushback-ms: the time left until it probes", async () => {
    const { cbs, client, clock } = await deadDownstream({
      retryBudget: false,
      defaultServiceCBConfig: { minSample: 1, errRate: 0.5 },
      serviceBreaker: { coolingTimeoutMs: 5000 },
    });
    await say(client, 'trips');
    clock.advance(1200);
    const r = await say(client, 'rejected');
    expect(r.error?.metadata.get('grpc-retry-pushback-ms')).toEqual(['3800']);
    expect(cbs.stats().service.rejections.get(cbs.serviceKey('/echo.v1.Echo/Say'))).toBe(1);
  });
});

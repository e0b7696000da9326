import { startCutServer } from '@cbsuite/testkit/cut-server.js';
import {
  count,
  EchoClient,
  EchoService,
  grpc,
  ipv4Target,
  type SayReply,
  type SayRequest,
  say,
} from '@cbsuite/testkit/echo.js';
import { afterEach, describe, expect, it } from 'vitest';
import { CBSuite } from './cb-suite.js';
import { RETRY_HEADER } from './chain-stop.js';
import type { CBFaultEvent, CBHedgeEvent } from './events.js';
import { HEDGE_LOSER_DETAILS } from './hedged-call.js';
import type { CBSuiteOptions } from './suite-options.js';

// Hedged requests against real grpc-js servers on 127.0.0.1:0, each of which
// answers after a delay the test sets, and counts the calls it received and
// the calls its client cancelled (as the server sees them).

interface SlowServer {
  readonly port: number;
  readonly address: string;
  delayMs: number;
  arrivals: number;
  /** Arrivals that were a call's first attempt (no retry header: not a hedge). */
  firstAttempts: number;
  cancelled: number;
  close(): Promise<void>;
}

async function startServer(delayMs: number): Promise<SlowServer> {
  const server = new grpc.Server();
  const s: SlowServer = {
    port: 0,
    address: '',
    delayMs,
    arrivals: 0,
    firstAttempts: 0,
    cancelled: 0,
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
  server.addService(EchoService, {
    Say: (call: grpc.ServerUnaryCall<SayRequest, SayReply>, cb: grpc.sendUnaryData<SayReply>) => {
      s.arrivals++;
      if (call.metadata.get(RETRY_HEADER).length === 0) s.firstAttempts++;
      let answered = false;
      const timer = setTimeout(() => {
        answered = true;
        cb(null, { text: call.request.text, instance: s.address });
      }, s.delayMs);
      // grpc-js emits 'cancelled' when the stream closes after the answer too: only one before it counts.
      call.on('cancelled', () => {
        if (answered) return;
        s.cancelled++;
        clearTimeout(timer);
      });
    },
    Count: (call: grpc.ServerWritableStream<{ text: string; count: number }, SayReply>) => {
      s.arrivals++;
      setTimeout(() => {
        call.write({ text: call.request.text, instance: s.address });
        call.end();
      }, s.delayMs);
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  Object.assign(s, { port, address: `127.0.0.1:${port}` });
  return s;
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function cluster(delays: number[], options: CBSuiteOptions) {
  const servers = await Promise.all(delays.map(() => startServer(0)));
  cleanups.push(() => Promise.all(servers.map((s) => s.close())));
  const cbs = new CBSuite(undefined, {
    defaultServiceCBConfig: { minSample: 100_000 },
    instanceCBConfig: { minSample: 100_000 },
    ...options,
  });
  const client = new EchoClient(ipv4Target(servers), grpc.credentials.createInsecure(), {
    ...cbs.channelOptions(),
    interceptors: [cbs.interceptor()],
  });
  cleanups.push(
    () => client.close(),
    () => cbs.close(),
  );
  // Warm up with every server fast, until each has a connection and answered.
  for (let i = 0; i < 100 && servers.some((s) => s.arrivals === 0); i++) await say(client, 'warm-up');
  if (servers.some((s) => s.arrivals === 0)) throw new Error('a server never answered the warm-up');
  servers.forEach((s, i) => {
    s.delayMs = delays[i] as number;
    s.arrivals = 0;
    s.firstAttempts = 0;
    s.cancelled = 0;
  });
  const hedges: CBHedgeEvent[] = [];
  cbs.onHedge((e) => hedges.push(e));
  return { servers, cbs, client, hedges, before: cbs.stats() };
}

/** Waits until `cond` holds, checking on each turn of the event loop, for at most `ms`. */
async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setImmediate(r));
}

describe('hedged requests', () => {
  it('one of three instances answers after 500 ms: with delayMs 50 the p99 stays under 100 ms, the slow attempts are cancelled, and hedges stay within the budget', async () => {
    const budget = { percentCanRetry: 0.5, minRetriesPerSec: 1, ttlMs: 10_000 };
    const { servers, cbs, client, hedges, before } = await cluster([0, 0, 500], {
      idempotent: () => true,
      hedging: { delayMs: 50 },
      retryBudget: budget,
    });
    const slow = servers[2] as SlowServer;
    const calls = 200;
    const latencies: number[] = [];
    for (let i = 0; i < calls; i++) {
      const started = performance.now();
      const r = await say(client, `call ${i}`);
      latencies.push(performance.now() - started);
      expect(r.error).toBeUndefined();
      expect(r.value?.instance).not.toBe(slow.address);
    }
    latencies.sort((a, b) => a - b);
    const p99 = latencies[Math.ceil(calls * 0.99) - 1] as number;
    expect(p99).toBeLessThan(100);
    // Round robin sends about a third of the first attempts to the slow instance; each was hedged.
    expect(slow.arrivals).toBeGreaterThanOrEqual(40);
    await until(() => slow.cancelled === slow.arrivals);
    expect(slow.cancelled).toBe(slow.arrivals);
    const stats = cbs.stats();
    const sent = stats.retry.hedges - before.retry.hedges;
    expect(sent).toBeGreaterThanOrEqual(slow.arrivals);
    // Hedges withdraw from the retry budget: minRetriesPerSec × ttl + percentCanRetry × calls.
    expect(sent).toBeLessThanOrEqual(budget.minRetriesPerSec * 10 + budget.percentCanRetry * calls);
    // Each first attempt on the slow instance lost to its hedge. On a busy machine a first attempt on a fast one can
    // outlast the 50 ms too: its hedge may win as well, or land on the slow instance and lose there.
    expect(stats.retry.hedgeWins - before.retry.hedgeWins).toBeGreaterThanOrEqual(slow.firstAttempts);
    expect(slow.firstAttempts).toBeGreaterThanOrEqual(40);
    expect(hedges.filter((e) => e.outcome === 'hedged')).toHaveLength(sent);
    expect(hedges.filter((e) => e.outcome === 'won').every((e) => e.attempt === 2)).toBe(true);
    // The service level recorded one outcome per call; the instance level each attempt that reached an instance.
    const serviceCalls = cbs.servicePanel.breaker('/echo.v1.Echo/Say')?.metricer();
    expect(serviceCalls?.successes()).toBeGreaterThanOrEqual(calls);
    await until(() => cbs.stats().instance.attempts - before.instance.attempts === calls + sent);
    expect(cbs.stats().instance.attempts - before.instance.attempts).toBe(calls + sent);
  });

  it('sends no hedge the budget refuses: the call waits for its first attempt, and the refusal is counted', async () => {
    const { servers, cbs, client, hedges, before } = await cluster([150, 150, 150], {
      idempotent: () => true,
      hedging: { delayMs: 20, maxAttempts: 3 },
      retryBudget: { percentCanRetry: 0, minRetriesPerSec: 0 },
    });
    const r = await say(client, 'one');
    expect(r.error).toBeUndefined();
    expect(servers.reduce((n, s) => n + s.arrivals, 0)).toBe(1);
    expect(hedges.map((e) => `${e.attempt}:${e.outcome}`)).toEqual(['2:budget']);
    const s = cbs.stats().retry;
    expect(s.hedges - before.retry.hedges).toBe(0);
    expect(s.hedgeRefusals - before.retry.hedgeRefusals).toBe(1);
  });

  it('never hedges a method not marked idempotent, nor a streaming call', async () => {
    const { servers, cbs, client, before } = await cluster([120, 120, 120], {
      idempotent: (ri) => ri.method === 'Count',
      hedging: { delayMs: 10, maxAttempts: 3 },
    });
    const r = await say(client, 'not idempotent');
    expect(r.error).toBeUndefined();
    const streamed = await count(client, 'streaming', 1);
    expect(streamed.error).toBeUndefined();
    expect(servers.reduce((n, s) => n + s.arrivals, 0)).toBe(2);
    expect(cbs.stats().retry.hedges - before.retry.hedges).toBe(0);
  });

  it('asks a hedging function once per method; one answering a bad value is a fault, and the method is not hedged', async () => {
    const asked: string[] = [];
    const { servers, cbs, client, before } = await cluster([120, 120, 120], {
      idempotent: () => true,
      hedging: (ri) => {
        asked.push(ri.method);
        return ri.method === 'Say' ? ({ delayMs: -1 } as never) : undefined;
      },
    });
    expect((await say(client, 'one')).error).toBeUndefined();
    expect((await say(client, 'two')).error).toBeUndefined();
    expect(servers.reduce((n, s) => n + s.arrivals, 0)).toBe(2);
    expect(cbs.stats().retry.hedges - before.retry.hedges).toBe(0);
    // Asked once (at the warm-up's first call): one fault, naming the field and the value.
    expect(asked).toEqual(['Say']);
    const faults = cbs.recentEvents().filter((e): e is CBFaultEvent => e.type === 'fault');
    expect(faults.map((f) => [f.phase, String(f.error)])).toEqual([
      ['hedging', expect.stringMatching(/hedging\(\/echo\.v1\.Echo\/Say\)\.delayMs .*got -1/)],
    ]);
  });

  it('sends a hedge only to an instance the call has not tried: with none left the call waits for its attempt, and nothing counts as a drop', async () => {
    const { servers, cbs, client, before } = await cluster([100], {
      idempotent: () => true,
      hedging: { delayMs: 10 },
      // One retry in the budget: a hedge that was never sent gives it back, so the next call may hedge too.
      retryBudget: { percentCanRetry: 0, minRetriesPerSec: 1, ttlMs: 1000 },
    });
    const hs: CBHedgeEvent[] = [];
    cbs.onHedge((e) => hs.push(e));
    for (const text of ['alone', 'again']) {
      const r = await say(client, text);
      expect(r.error).toBeUndefined();
    }
    expect(hs.map((e) => `${e.attempt}:${e.outcome}`)).toEqual(['2:hedged', '2:hedged']);
    expect(servers[0]?.arrivals).toBe(2);
    expect(servers[0]?.cancelled).toBe(0);
    expect(cbs.stats().instance.drops).toBe(before.instance.drops);
  });

  it("leaves the caller's metadata as it was: one metadata shared by hedged calls in flight together, hedges and all", async () => {
    const { servers, cbs, client, hedges } = await cluster([400, 0, 0], {
      idempotent: () => true,
      hedging: { delayMs: 150 },
      retryBudget: { percentCanRetry: 1 },
    });
    const options = { waitForReady: true };
    const md = new grpc.Metadata(options);
    md.set('x-mine', 'kept');
    // The first attempt of each is tagged on the caller's metadata while it starts, a hedge on a copy.
    const results = await Promise.all(Array.from({ length: 9 }, () => say(client, 'x', {}, md)));
    expect(results.filter((r) => r.error !== undefined)).toEqual([]);
    expect(md.getOptions()).toBe(options);
    expect(md.getMap()).toEqual({ 'x-mine': 'kept' });
    // Three of the nine went first to the slow instance, and each of those was hedged to another.
    expect(hedges.filter((e) => e.outcome === 'hedged')).toHaveLength(3);
    expect(servers.map((s) => s.firstAttempts)).toEqual([3, 3, 3]);
    expect(cbs.stats().service.faults).toBe(0);
  });

  it('an attempt whose connection is lost is not an answer: the next attempt goes at once, as a retry, not after the delay', async () => {
    const cut = await startCutServer('headers');
    const fast = await Promise.all([startServer(0), startServer(0)]);
    cleanups.push(
      () => cut.close(),
      () => Promise.all(fast.map((s) => s.close())),
    );
    const cbs = new CBSuite(undefined, {
      defaultServiceCBConfig: { minSample: 100_000 },
      instanceCBConfig: { minSample: 100_000 },
      retryStopErrRate: false,
      idempotent: () => true,
      // Never reached in this test: a hedge would wait a minute.
      hedging: { delayMs: 60_000, maxAttempts: 3 },
    });
    const target = `ipv4:${[cut.address, ...fast.map((s) => s.address)].join(',')}`;
    const client = new EchoClient(target, grpc.credentials.createInsecure(), {
      ...cbs.channelOptions(),
      interceptors: [cbs.interceptor()],
    });
    cleanups.push(
      () => client.close(),
      () => cbs.close(),
    );
    const hedges: CBHedgeEvent[] = [];
    cbs.onHedge((e) => hedges.push(e));
    // Calls until one reaches the cut server (round robin; it connects in the background); that one's connection is cut.
    let result: Awaited<ReturnType<typeof say>> | undefined;
    for (let i = 0; i < 200 && result === undefined; i++) {
      const before = cut.calls();
      let done = false;
      const call = say(client, `call ${i}`).then((r) => {
        done = true;
        return r;
      });
      await until(() => done || cut.calls() > before);
      if (cut.calls() > before) {
        cut.cut();
        result = await call;
      } else expect((await call).error).toBeUndefined();
    }
    expect(result?.error).toBeUndefined();
    expect(result?.value?.instance).not.toBe(cut.address);
    expect(cbs.stats().retry.retries).toBe(1);
    expect(hedges).toEqual([]);
  });

  it('cancels every attempt when the caller cancels, and the caller gets its own cancellation', async () => {
    const { servers, client } = await cluster([300, 300, 300], {
      idempotent: () => true,
      hedging: { delayMs: 10, maxAttempts: 3 },
      retryBudget: { percentCanRetry: 1, minRetriesPerSec: 10 },
    });
    const status = await new Promise<grpc.StatusObject>((resolve) => {
      const call = client.Say({ text: 'cancel me' }, () => {});
      call.on('status', resolve);
      void until(() => servers.every((s) => s.arrivals === 1)).then(() => call.cancel());
    });
    expect(status.code).toBe(grpc.status.CANCELLED);
    expect(status.details).not.toBe(HEDGE_LOSER_DETAILS);
    await until(() => servers.every((s) => s.cancelled === 1));
    expect(servers.map((s) => [s.arrivals, s.cancelled])).toEqual([
      [1, 1],
      [1, 1],
      [1, 1],
    ]);
  });
});

import { State } from '@cbsuite/core';
import {
  EchoClient,
  EchoService,
  grpc,
  type SayReply,
  type SayRequest,
  say,
  startEchoServer,
} from '@cbsuite/testkit/echo.js';
import { afterEach, describe, expect, it } from 'vitest';
import { CBSuite } from './cb-suite.js';
import {
  CIRCUIT_BREAK_KEY_TRAILER,
  CIRCUIT_BREAK_TRAILER,
  circuitBreakKey,
  circuitBreakLevel,
  circuitBreakStatus,
  isCircuitBreakError,
} from './circuit-break-error.js';

// A rejection is recognised by a mark on the status's metadata object that
// only this process sets; the x-cbsuite-* trailers travel on the wire, so a
// server can send them, and a caller never believes them.

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const MID_KEY = 'mid/echo.v1.Echo/Say';
const FRONT_KEY = 'front/echo.v1.Echo/Say';

function suite(fromService: string, minSample = 3) {
  const cbs = new CBSuite(undefined, { fromService, defaultServiceCBConfig: { errRate: 0.5, minSample } });
  cleanups.push(() => cbs.close());
  return cbs;
}

function client(cbs: CBSuite, address: string) {
  const c = new EchoClient(address, grpc.credentials.createInsecure(), { interceptors: [cbs.interceptor()] });
  cleanups.push(() => c.close());
  return c;
}

/** A grpc-js middle tier: Say calls the backend through its own suite and passes any error on with callback(err). */
async function startMiddleTier(backend: string) {
  const cbs = suite('mid');
  const down = client(cbs, backend);
  const seen: grpc.ServiceError[] = [];
  const server = new grpc.Server();
  server.addService(EchoService, {
    Say: (call: grpc.ServerUnaryCall<SayRequest, SayReply>, callback: grpc.sendUnaryData<SayReply>) => {
      down.Say(call.request, (err: grpc.ServiceError | null, reply?: SayReply) => {
        if (err) seen.push(err);
        callback(err, reply);
      });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  cleanups.push(() => server.forceShutdown());
  return { cbs, seen, address: `127.0.0.1:${port}` };
}

describe('circuit-break markers', () => {
  it("a middle tier's own rejection, passed on with callback(err), is not the caller's: it counts as a failure", async () => {
    const backend = await startEchoServer(() => ({ code: grpc.status.UNAVAILABLE, details: 'backend down' }));
    cleanups.push(() => backend.close());
    const mid = await startMiddleTier(backend.address);
    const front = suite('front', 5);
    const c = client(front, mid.address);

    for (let i = 0; i < 3; i++) expect((await say(c, 'x')).error?.details).toBe('backend down');
    expect(mid.cbs.servicePanel.breaker(MID_KEY)?.state()).toBe(State.Open);
    const { error } = await say(c, 'x');

    // The middle tier knows its rejection for what it is...
    const own = mid.seen.at(-1);
    expect(isCircuitBreakError(own)).toBe(true);
    expect(circuitBreakLevel(own)).toBe('service');
    expect(circuitBreakKey(own)).toBe(MID_KEY);
    // ...its caller sees the middle tier fail: the call reached it.
    expect(error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(error?.details).toBe('forbidden by circuitbreaker: service circuitbreak');
    expect(isCircuitBreakError(error)).toBe(false);
    expect(circuitBreakLevel(error)).toBeUndefined();
    expect(circuitBreakKey(error)).toBeUndefined();
    expect(error?.metadata.get(CIRCUIT_BREAK_TRAILER)).toEqual([]);
    expect(error?.metadata.get(CIRCUIT_BREAK_KEY_TRAILER)).toEqual([]);
    expect(mid.cbs.servicePanel.getMetricer(MID_KEY).failures()).toBe(3);
    expect(front.servicePanel.getMetricer(FRONT_KEY).failures()).toBe(4);
    await say(c, 'x');
    expect(front.servicePanel.breaker(FRONT_KEY)?.state()).toBe(State.Open);
  });

  it('a server that sends the marker trailers on purpose is not believed', async () => {
    const trailers = new grpc.Metadata();
    trailers.set(CIRCUIT_BREAK_TRAILER, 'service');
    trailers.set(CIRCUIT_BREAK_KEY_TRAILER, encodeURIComponent(FRONT_KEY));
    const server = await startEchoServer(() => ({
      code: grpc.status.UNAVAILABLE,
      details: 'forbidden by circuitbreaker: service circuitbreak',
      trailers,
    }));
    cleanups.push(() => server.close());
    const front = suite('front');
    const c = client(front, server.address);
    const { error } = await say(c, 'x');
    expect(server.hits.Say).toBe(1);
    expect(isCircuitBreakError(error)).toBe(false);
    expect(circuitBreakKey(error)).toBeUndefined();
    expect(error?.metadata.get(CIRCUIT_BREAK_TRAILER)).toEqual([]);
    expect(front.servicePanel.getMetricer(FRONT_KEY).failures()).toBe(1);

    // Without the suite's interceptor the trailers arrive as sent, and are still not believed.
    const bare = new EchoClient(server.address, grpc.credentials.createInsecure());
    cleanups.push(() => bare.close());
    const raw = (await say(bare, 'x')).error;
    expect(raw?.metadata.get(CIRCUIT_BREAK_TRAILER)).toEqual(['service']);
    expect(isCircuitBreakError(raw)).toBe(false);
    expect(circuitBreakLevel(raw)).toBeUndefined();
  });

  it('the mark is a registered symbol, not enumerable and not sent: another installed copy reads it', () => {
    const s = circuitBreakStatus('instance', undefined);
    const mark = Symbol.for('@cbsuite/grpc-interceptor:circuitBreak');
    expect(Object.getOwnPropertyDescriptor(s.metadata, mark)).toMatchObject({ enumerable: false, writable: false });
    expect(Object.keys(s.metadata.toJSON())).toEqual([CIRCUIT_BREAK_TRAILER]);
    // What a second copy of this package makes.
    const md = new grpc.Metadata();
    Object.defineProperty(md, mark, { value: Object.freeze({ level: 'service', key: 'k' }) });
    const other = {
      code: grpc.status.UNAVAILABLE,
      details: 'forbidden by circuitbreaker: service circuitbreak',
      metadata: md,
    };
    expect(isCircuitBreakError(other)).toBe(true);
    expect(circuitBreakKey(other)).toBe('k');
  });
});

import { CBSuite } from '@cbsuite/grpc-interceptor';
import { type CutServer, startCutServer } from '@cbsuite/testkit/cut-server.js';
import { type EchoServer, startEchoServer } from '@cbsuite/testkit/echo.js';
import type { CallOptions, ClientMiddleware, ClientMiddlewareCall } from 'nice-grpc-common';
import { afterEach, describe, expect, it } from 'vitest';
import { niceEcho, sayNice } from './test-support/nice-echo.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Setup {
  cut: CutServer;
  healthy: EchoServer[];
  cbs: CBSuite;
  /** The `x-instance` header of each attempt, as a middleware under the suite's saw them. */
  attempts: string[];
  /** Resolves the next time an attempt gets its headers from the cut server. */
  reached: () => Promise<'reached'>;
  say: ReturnType<typeof niceEcho>['client'];
}

/** One cut server and two healthy ones behind one nice-grpc client (round robin). */
async function setup(idempotent: boolean): Promise<Setup> {
  const cut = await startCutServer('headers');
  const healthy = [await startEchoServer(() => ({ headers: true })), await startEchoServer(() => ({ headers: true }))];
  const cbs = new CBSuite(undefined, { defaultServiceCBConfig: { minSample: 100_000 }, idempotent: () => idempotent });
  const attempts: string[] = [];
  let onReached: () => void = () => {};
  const probe: ClientMiddleware = async function* <Req, Res>(
    call: ClientMiddlewareCall<Req, Res>,
    options: CallOptions,
  ) {
    return yield* call.next(call.request, {
      ...options,
      onHeader: (h) => {
        const from = String(h.get('x-instance'));
        attempts.push(from);
        options.onHeader?.(h);
        if (from === cut.address) onReached();
      },
    });
  };
  const { client, close } = niceEcho(cbs, [cut.address, ...healthy.map((s) => s.address)], probe);
  cleanups.push(
    () => cut.close(),
    ...healthy.map((s) => () => s.close()),
    close,
    () => cbs.close(),
  );
  const reached = () => new Promise<'reached'>((resolve) => (onReached = () => resolve('reached')));
  return { cut, healthy, cbs, attempts, reached, say: client };
}

/** Calls until one lands on the cut server, cuts its connection under it, and returns what that call's caller saw. */
async function callAndCut(s: Setup) {
  for (let i = 0; i < 10; i++) {
    s.attempts.length = 0;
    const reached = s.reached();
    const headers: string[] = [];
    const done = sayNice(s.say, 'x', { onHeader: (h) => headers.push(String(h.get('x-instance'))) });
    if ((await Promise.race([reached, done.then(() => 'done' as const)])) === 'reached') {
      s.cut.cut();
      return { ...(await done), headers };
    }
  }
  throw new Error('no call landed on the cut server in 10 calls');
}

describe('cbsuiteMiddleware: retries on another instance', () => {
  it('retries an idempotent unary call whose instance dies under it on another; the caller sees only that answer', async () => {
    const s = await setup(true);
    const seen = await callAndCut(s);
    const others = s.healthy.map((h) => h.address);
    expect(seen.error).toBeUndefined();
    expect(others).toContain(seen.value?.instance);
    expect(seen.headers).toEqual([seen.value?.instance]);
    expect(s.attempts).toEqual([s.cut.address, seen.value?.instance]);
    expect(s.cut.calls()).toBe(1);
    expect(s.cbs.stats().instance.retries).toBe(1);
    expect(s.cbs.instancePanel.breaker(s.cut.address)?.metricer().failures()).toBe(1);
    // One outcome for the logical call, a success, at the service level.
    const m = s.cbs.servicePanel.getMetricer(s.cbs.serviceKey('/echo.v1.Echo/Say'));
    expect(m.failures()).toBe(0);
  });

  it('does not retry a call that is not idempotent: the caller gets the drop and the headers it got', async () => {
    const s = await setup(false);
    const seen = await callAndCut(s);
    expect((seen.error as { details?: string }).details).toBe('Connection dropped');
    expect(seen.headers).toEqual([s.cut.address]);
    expect(s.cut.calls()).toBe(1);
    expect(s.cbs.stats().instance.retries).toBe(0);
    const m = s.cbs.servicePanel.getMetricer(s.cbs.serviceKey('/echo.v1.Echo/Say'));
    expect(m.failures()).toBe(1);
  });
});

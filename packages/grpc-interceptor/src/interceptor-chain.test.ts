import { type Answer, EchoClient, grpc, say, startEchoServer } from '@cbsuite/testkit/echo.js';
import { afterEach, describe, expect, it } from 'vitest';
import { CBSuite } from './cb-suite.js';

// cbs.interceptor() hands grpc-js its own call object, not an InterceptingCall:
// interceptors written the usual way, before and after it, still see what
// they would around any other interceptor.

const KEY = 'checkout/echo.v1.Echo/Say';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** An interceptor before the suite's: adds a header, and logs the answer it passes on. */
function outer(log: string[]): grpc.Interceptor {
  return (options, next) =>
    new grpc.InterceptingCall(next(options), {
      start(md, _listener, nextStart) {
        md.set('x-outer', 'yes');
        nextStart(md, {
          onReceiveMetadata(m, nextMd) {
            log.push('outer: headers');
            nextMd(m);
          },
          onReceiveMessage(msg, nextMsg) {
            log.push(`outer: message ${msg === null ? 'null' : (msg as { text: string }).text}`);
            nextMsg(msg);
          },
          onReceiveStatus(status, nextStatus) {
            log.push(`outer: status ${grpc.status[status.code]}`);
            nextStatus(status);
          },
        });
      },
    });
}

/** An interceptor after the suite's: reads the header, and starts its call a turn later. */
function deferring(log: string[], started: () => void): grpc.Interceptor {
  return (options, next) =>
    new grpc.InterceptingCall(next(options), {
      start(md, listener, nextStart) {
        log.push(`inner: x-outer=${String(md.get('x-outer')[0])}`);
        setImmediate(() => {
          nextStart(md, listener);
          started();
        });
      },
      sendMessage(msg, nextMsg) {
        log.push('inner: message sent');
        nextMsg(msg);
      },
    });
}

async function setup(answer: Answer | undefined, instanceLevel = false) {
  const server = await startEchoServer(() => answer);
  const cbs = new CBSuite(undefined, { fromService: 'checkout' });
  const log: string[] = [];
  let started = () => {};
  const client = new EchoClient(server.address, grpc.credentials.createInsecure(), {
    ...(instanceLevel ? cbs.channelOptions() : {}),
    interceptors: [outer(log), cbs.interceptor(), deferring(log, () => started())],
  });
  cleanups.push(
    () => server.close(),
    () => client.close(),
    () => cbs.close(),
  );
  // Resolves once the innermost call has started.
  const startedNext = () =>
    new Promise<void>((resolve) => {
      started = resolve;
    });
  return { cbs, client, log, startedNext, server };
}

describe('cbs.interceptor() between interceptors written the usual way', () => {
  it('passes an outer header inward, works with an inner start that waits a turn, and the outer one sees the answer', async () => {
    const { cbs, client, log } = await setup(undefined);
    const r = await say(client, 'hi');
    expect(r.error).toBeUndefined();
    expect(r.value?.text).toBe('hi');
    expect(log).toEqual([
      'inner: x-outer=yes',
      'inner: message sent',
      'outer: headers',
      'outer: message hi',
      'outer: status OK',
    ]);
    const m = cbs.servicePanel.getMetricer(KEY);
    expect([m.successes(), m.failures()]).toEqual([1, 0]);
  });

  it('with the instance level, tags a copy for an inner start that waits a turn: each call is tracked', async () => {
    const { cbs, client, server } = await setup(undefined, true);
    const md = new grpc.Metadata();
    const call = () =>
      new Promise<void>((resolve, reject) =>
        client.Say({ text: 'x' }, md, {}, (err) => (err ? reject(err) : resolve())),
      );
    // An attempt the picker saw without its tag would make the suite refuse every later call.
    await call();
    await call();
    expect(cbs.stats().service.faults).toBe(0);
    expect(md.getMap()).toEqual({ 'x-outer': 'yes' });
    expect(md.getOptions()).toEqual({});
    expect(cbs.instancePanel.breaker(server.address)?.metricer().successes()).toBe(2);
  });

  it('gives the outer interceptor a failure as it came, and records it once', async () => {
    const { cbs, client, log } = await setup({ code: grpc.status.UNAVAILABLE });
    const r = await say(client, 'hi');
    expect(r.error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(log.filter((l) => l.startsWith('outer'))).toEqual(['outer: message null', 'outer: status UNAVAILABLE']);
    const m = cbs.servicePanel.getMetricer(KEY);
    expect([m.successes(), m.failures()]).toEqual([0, 1]);
  });

  it('lets the caller cancel a started call through it', async () => {
    // The server holds the call (real time, far past the test): only the cancel ends it.
    const { cbs, client, startedNext } = await setup({ delayMs: 60_000 });
    const started = startedNext();
    let call: grpc.ClientUnaryCall | undefined;
    const done = new Promise<grpc.ServiceError | null>((resolve) => {
      call = client.Say({ text: 'x' }, (err: grpc.ServiceError | null) => resolve(err));
    });
    await started;
    call?.cancel();
    expect((await done)?.code).toBe(grpc.status.CANCELLED);
    const m = cbs.servicePanel.getMetricer(KEY);
    // A call its caller cancelled says nothing of the dependency (Kitex): not recorded as a failure.
    expect(m.failures()).toBe(0);
  });
});

import { type CBStateChangeEvent, CBSuite, type CBSuiteOptions } from '@cbsuite/grpc-interceptor';
import { type Behavior, type EchoServer, grpc, startEchoServer } from '@cbsuite/testkit/echo.js';
import { ClientError, Metadata, Status } from 'nice-grpc';
import { afterEach, describe, expect, it } from 'vitest';
import { cbsuiteMiddleware } from './middleware.js';
import { circuitBreakKey, circuitBreakLevel, isCircuitBreakError, isLoadShedError } from './rejection.js';
import { collectStream, type NiceEcho, niceEcho, sayNice } from './test-support/nice-echo.js';

const SAY = 'checkout/echo.v1.Echo/Say';
const COUNT = 'checkout/echo.v1.Echo/Count';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const failing: Behavior = () => ({ code: grpc.status.UNAVAILABLE, details: 'database down' });

async function setup(behavior?: Behavior, options: CBSuiteOptions = {}, n = 1) {
  const servers: EchoServer[] = [];
  for (let i = 0; i < n; i++) servers.push(await startEchoServer(behavior));
  const cbs = new CBSuite(undefined, { fromService: 'checkout', ...options });
  const events: CBStateChangeEvent[] = [];
  cbs.onStateChange((e) => events.push(e));
  const { client, close } = niceEcho(
    cbs,
    servers.map((s) => s.address),
  );
  cleanups.push(
    ...servers.map((s) => () => s.close()),
    () => close(),
    () => cbs.close(),
  );
  const hits = () => servers.reduce((sum, s) => sum + s.total(), 0);
  return { servers, cbs, client, events, hits };
}

async function calls(client: NiceEcho, n: number): Promise<unknown[]> {
  const errors: unknown[] = [];
  for (let i = 0; i < n; i++) errors.push((await sayNice(client, `call ${i}`)).error);
  return errors;
}

describe('cbsuiteMiddleware: the service level of the suite', () => {
  it('trips after minSample failures under the suite key; later calls are rejected unsent and counted', async () => {
    const { cbs, client, events, hits } = await setup(failing);
    cbs.updateServiceCBConfig(SAY, { errRate: 0.5, minSample: 10 });
    const errors = await calls(client, 10);
    expect(hits()).toBe(10);
    for (const e of errors) {
      expect(e).toBeInstanceOf(ClientError);
      expect(isCircuitBreakError(e)).toBe(false);
    }
    expect(events.map((e) => [e.level, e.key, e.fromName, e.toName])).toEqual([['service', SAY, 'CLOSED', 'OPEN']]);

    const rejected = await calls(client, 5);
    expect(hits()).toBe(10);
    for (const e of rejected) {
      expect(e).toBeInstanceOf(ClientError);
      const err = e as ClientError;
      expect(err.code).toBe(Status.UNAVAILABLE);
      expect(err.details).toBe('forbidden by circuitbreaker: service circuitbreak');
      expect(err.path).toBe('/echo.v1.Echo/Say');
      expect(isCircuitBreakError(err)).toBe(true);
      expect(circuitBreakLevel(err)).toBe('service');
      expect(circuitBreakKey(err)).toBe(SAY);
    }
    expect(cbs.stats().service.rejections.get(SAY)).toBe(5);
    expect(cbs.serviceKey('/echo.v1.Echo/Say')).toBe(SAY);
    const m = cbs.servicePanel.getMetricer(SAY);
    expect([m.samples(), m.failures()]).toEqual([10, 10]);
  });

  it('counts a success once and gives the reply', async () => {
    const { cbs, client } = await setup();
    const { value } = await sayNice(client, 'hello');
    expect(value?.text).toBe('hello');
    const m = cbs.servicePanel.getMetricer(SAY);
    expect([m.samples(), m.successes()]).toEqual([1, 1]);
  });

  it('does not believe a server that sends the rejection trailers, and does not pass them on', async () => {
    const trailers = new grpc.Metadata();
    trailers.set('x-cbsuite-circuitbreak', 'service');
    trailers.set('x-cbsuite-key', encodeURIComponent(SAY));
    trailers.set('x-other', 'kept');
    const { cbs, client } = await setup(() => ({
      code: grpc.status.UNAVAILABLE,
      details: 'forbidden by circuitbreaker: service circuitbreak',
      trailers,
    }));
    let seen: Metadata | undefined;
    const { error } = await sayNice(client, 'x', { onTrailer: (t) => (seen = t) });
    expect(error).toBeInstanceOf(ClientError);
    expect((error as ClientError).details).toBe('forbidden by circuitbreaker: service circuitbreak');
    expect(isCircuitBreakError(error)).toBe(false);
    expect(circuitBreakLevel(error)).toBeUndefined();
    expect(seen?.get('x-other')).toBe('kept');
    expect(seen?.has('x-cbsuite-circuitbreak')).toBe(false);
    expect(seen?.has('x-cbsuite-key')).toBe(false);
    // The server's failure is recorded as one.
    expect(cbs.servicePanel.getMetricer(SAY).failures()).toBe(1);
  });

  it('applies config updates to the calls that follow', async () => {
    const { cbs, client, hits } = await setup(failing);
    cbs.updateServiceCBConfig(SAY, { errRate: 0.5, minSample: 3 });
    await calls(client, 3);
    expect(hits()).toBe(3);
    expect(isCircuitBreakError((await sayNice(client, 'x')).error)).toBe(true);
    cbs.updateServiceCBConfig(SAY, { enable: false });
    const { error } = await sayNice(client, 'x');
    expect(isCircuitBreakError(error)).toBe(false);
    expect(hits()).toBe(4);
    expect(cbs.serviceCBConfig(SAY)).toEqual({ enable: false, errRate: 0.5, minSample: 3 });
  });

  it('counts a server-streaming call once, as a success or as a failure', async () => {
    let fail = false;
    const { cbs, client, servers } = await setup(() => (fail ? { code: grpc.status.INTERNAL } : undefined));
    const ok = await collectStream(client.Count({ text: 'n', count: 5 }));
    expect(ok.value?.map((r) => r.text)).toEqual(['n#0', 'n#1', 'n#2', 'n#3', 'n#4']);
    let m = cbs.servicePanel.getMetricer(COUNT);
    expect([m.samples(), m.successes()]).toEqual([1, 1]);
    fail = true;
    const bad = await collectStream(client.Count({ text: 'n', count: 5 }));
    expect((bad.error as ClientError).code).toBe(Status.INTERNAL);
    m = cbs.servicePanel.getMetricer(COUNT);
    expect([m.samples(), m.failures()]).toEqual([2, 1]);
    expect(servers[0]?.hits.Count).toBe(2);
  });

  it('rejects a streaming call unsent while the key is forced open', async () => {
    const { cbs, client, hits } = await setup();
    cbs.servicePanel.setMode(COUNT, 'forcedOpen');
    const { error } = await collectStream(client.Count({ text: 'n', count: 2 }));
    expect(circuitBreakKey(error)).toBe(COUNT);
    expect(hits()).toBe(0);
  });

  it('recognises the instance level rejection, when every instance is tripped', async () => {
    const { cbs, client, servers, hits } = await setup(undefined, {}, 2);
    await sayNice(client, 'warm');
    for (const s of servers) cbs.instancePanel.setMode(s.address, 'forcedOpen');
    const { error } = await sayNice(client, 'x');
    expect(isCircuitBreakError(error)).toBe(true);
    expect(circuitBreakLevel(error)).toBe('instance');
    expect((error as ClientError).details).toBe('forbidden by circuitbreaker: instance circuitbreak');
    expect(hits()).toBe(1);
    expect(cbs.stats().instance.drops).toBe(1);
  });

  it('sheds by serviceShedding, recognisably, with the suite counting it', async () => {
    const { cbs, client } = await setup(undefined, { serviceShedding: { concurrencyLimit: { maxConcurrent: 1 } } });
    const first = client.Say({ text: 'a' });
    const { error } = await sayNice(client, 'b');
    await first;
    expect(isLoadShedError(error)).toBe(true);
    expect(isCircuitBreakError(error)).toBe(false);
    expect((error as ClientError).code).toBe(Status.RESOURCE_EXHAUSTED);
    expect(cbs.stats().service.shed.concurrency.get(SAY)).toBe(1);
  });

  it('refuses what is not a CBSuite, naming cbs', () => {
    expect(() => cbsuiteMiddleware({} as CBSuite)).toThrow(/^cbs must be a CBSuite/);
    expect(() => cbsuiteMiddleware(null as unknown as CBSuite)).toThrow(TypeError);
  });

  it('passes the caller metadata on without the call tag', async () => {
    const seen: string[] = [];
    const server = await startEchoServer();
    cleanups.push(() => server.close());
    const cbs = new CBSuite(undefined, { fromService: 'checkout' });
    const { client, close } = niceEcho(cbs, [server.address]);
    cleanups.push(close, () => cbs.close());
    const md = Metadata({ 'x-user': 'u1' });
    await client.Say({ text: 'x' }, { metadata: md });
    seen.push(...[...md].map(([k]) => k));
    expect(seen).toEqual(['x-user']);
  });
});

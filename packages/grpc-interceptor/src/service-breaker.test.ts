import { ErrorType, State } from '@cbsuite/core';
import {
  type Behavior,
  chat,
  collect,
  count,
  EchoClient,
  type EchoServer,
  grpc,
  say,
  startEchoServer,
} from '@cbsuite/testkit/echo.js';
import { ManualClock } from '@cbsuite/testkit/manual-clock.js';
import { afterEach, describe, expect, it } from 'vitest';
import { isCBConfigError } from './cb-config.js';
import { CBSuite } from './cb-suite.js';
import { circuitBreakKey, circuitBreakLevel, isCircuitBreakError } from './circuit-break-error.js';
import { errorTypeTrailer } from './classify.js';
import type { CBStateChangeEvent } from './events.js';
import type { GenServiceCBKeyFunc } from './rpc-info.js';
import type { CBSuiteOptions } from './suite-options.js';

const SAY = 'checkout/echo.v1.Echo/Say';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(options: CBSuiteOptions = {}, behavior?: Behavior, genKey?: GenServiceCBKeyFunc) {
  const clock = new ManualClock();
  const server = await startEchoServer(behavior);
  const cbs = new CBSuite(genKey, {
    fromService: 'checkout',
    ...options,
    serviceBreaker: { now: clock.now, ...options.serviceBreaker },
  });
  const client = new EchoClient(server.address, grpc.credentials.createInsecure(), {
    interceptors: [cbs.interceptor()],
  });
  const events: CBStateChangeEvent[] = [];
  cbs.onStateChange((e) => events.push(e));
  cleanups.push(
    () => server.close(),
    () => client.close(),
    () => cbs.close(),
  );
  return { clock, server, cbs, client, events };
}

const failing =
  (code: grpc.status): Behavior =>
  () => ({ code });
const counts = (cbs: CBSuite, key = SAY) => {
  const m = cbs.servicePanel.getMetricer(key);
  return { s: m.successes(), f: m.failures(), t: m.timeouts() };
};

describe('service-level breaker: tripping and rejection', () => {
  it('trips after minSample at the configured rate; a rejected call ends at once and never reaches the server', async () => {
    const { cbs, client, server, events } = await setup({}, failing(grpc.status.UNAVAILABLE));
    cbs.updateServiceCBConfig(SAY, { errRate: 0.5, minSample: 10 });
    for (let i = 0; i < 9; i++) expect((await say(client, 'x')).error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(cbs.servicePanel.breaker(SAY)?.state()).toBe(State.Closed);
    await say(client, 'x');
    expect(cbs.servicePanel.breaker(SAY)?.state()).toBe(State.Open);
    expect(server.hits.Say).toBe(10);

    const { error } = await say(client, 'x');
    expect(server.hits.Say).toBe(10);
    expect(error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(error?.details).toBe('forbidden by circuitbreaker: service circuitbreak');
    expect(isCircuitBreakError(error)).toBe(true);
    expect(circuitBreakLevel(error)).toBe('service');
    expect(circuitBreakKey(error)).toBe(SAY);
    expect(counts(cbs)).toEqual({ s: 0, f: 10, t: 0 });
    expect(cbs.stats().service.rejections.get(SAY)).toBe(1);
    expect(events).toMatchObject([
      { level: 'service', key: SAY, fromName: 'CLOSED', toName: 'OPEN', cause: 'trip', counts: { failures: 10 } },
    ]);
    expect(events[0]?.detail).toBe(`${SAY}: CLOSED -> OPEN, (succ: 0, err: 10, timeout: 0, rate: 1.000000)`);
  });

  it('does not trip below the rate', async () => {
    let n = 0;
    const { cbs, client } = await setup({}, () => (n++ % 3 === 0 ? { code: grpc.status.INTERNAL } : undefined));
    cbs.updateServiceCBConfig(SAY, { errRate: 0.5, minSample: 10 });
    for (let i = 0; i < 30; i++) await say(client, 'x');
    expect(counts(cbs)).toEqual({ s: 20, f: 10, t: 0 });
    expect(cbs.servicePanel.breaker(SAY)?.state()).toBe(State.Closed);
  });

  it('lets a probe through after cooling and closes on successes', async () => {
    const { cbs, client, server, clock, events } = await setup({}, failing(grpc.status.UNAVAILABLE));
    cbs.updateServiceCBConfig(SAY, { minSample: 4 });
    for (let i = 0; i < 4; i++) await say(client, 'x');
    expect((await say(client, 'x')).error?.details).toMatch(/forbidden by circuitbreaker/);
    server.setBehavior(() => undefined);
    clock.advance(5000);
    expect((await say(client, 'probe 1')).value?.text).toBe('probe 1');
    expect(cbs.servicePanel.breaker(SAY)?.state()).toBe(State.HalfOpen);
    expect(isCircuitBreakError((await say(client, 'within detect')).error)).toBe(true);
    clock.advance(200);
    expect((await say(client, 'probe 2')).value?.text).toBe('probe 2');
    expect(cbs.servicePanel.breaker(SAY)?.state()).toBe(State.Closed);
    expect(server.hits.Say).toBe(6);
    expect(events.map((e) => `${e.fromName}>${e.toName}`)).toEqual(['CLOSED>OPEN', 'OPEN>HALFOPEN', 'HALFOPEN>CLOSED']);
  });

  it('re-opens when the probe fails', async () => {
    const { cbs, client, clock } = await setup({}, failing(grpc.status.UNAVAILABLE));
    cbs.updateServiceCBConfig(SAY, { minSample: 2 });
    await say(client, 'x');
    await say(client, 'x');
    clock.advance(5000);
    expect((await say(client, 'probe')).error?.details).toMatch(/failed by test behaviour/);
    expect(cbs.servicePanel.breaker(SAY)?.state()).toBe(State.Open);
  });
});

describe('service-level breaker: classification (defaults)', () => {
  const table: [keyof typeof grpc.status, 's' | 'f' | 't' | 'none'][] = [
    ['OK', 's'],
    ['CANCELLED', 'none'],
    ['UNKNOWN', 'f'],
    ['INVALID_ARGUMENT', 's'],
    ['DEADLINE_EXCEEDED', 't'],
    ['NOT_FOUND', 's'],
    ['ALREADY_EXISTS', 's'],
    ['PERMISSION_DENIED', 's'],
    ['RESOURCE_EXHAUSTED', 'f'],
    ['FAILED_PRECONDITION', 's'],
    ['ABORTED', 's'],
    ['OUT_OF_RANGE', 's'],
    ['UNIMPLEMENTED', 'f'],
    ['INTERNAL', 'f'],
    ['UNAVAILABLE', 'f'],
    ['DATA_LOSS', 'f'],
    ['UNAUTHENTICATED', 's'],
  ];
  it.each(table)('a server answering %s counts as %s', async (name, expected) => {
    const code = grpc.status[name];
    const { cbs, client } = await setup({}, () => (code === grpc.status.OK ? undefined : { code }));
    await say(client, 'x');
    const c = counts(cbs);
    expect(c).toEqual({ s: expected === 's' ? 1 : 0, f: expected === 'f' ? 1 : 0, t: expected === 't' ? 1 : 0 });
  });

  it("counts the caller's deadline as a timeout and its own cancel as nothing", async () => {
    const { cbs, client } = await setup({}, () => ({ delayMs: 300 }));
    const r = await say(client, 'slow', { deadline: Date.now() + 50 });
    expect(r.error?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    await new Promise<void>((resolve) => {
      const call = client.Say({ text: 'cancel me' }, (err) => {
        expect(err?.code).toBe(grpc.status.CANCELLED);
        resolve();
      });
      setImmediate(() => call.cancel());
    });
    expect(counts(cbs)).toEqual({ s: 0, f: 0, t: 1 });
  });

  it("honours a server's error-type trailer", async () => {
    const { cbs, client } = await setup({}, () => ({
      code: grpc.status.INTERNAL,
      trailers: errorTypeTrailer(ErrorType.Ignorable),
    }));
    await say(client, 'x');
    expect(counts(cbs)).toEqual({ s: 0, f: 0, t: 0 });
  });

  it('asks a wrapped classifier only when the default says success', async () => {
    const seen: string[] = [];
    const { cbs, client, server } = await setup(
      {
        wrappedServiceGetErrorType: (status) => {
          seen.push(grpc.status[status.code]);
          return status.code === grpc.status.NOT_FOUND ? ErrorType.Failure : ErrorType.Success;
        },
      },
      failing(grpc.status.NOT_FOUND),
    );
    await say(client, 'x');
    server.setBehavior(failing(grpc.status.INTERNAL));
    await say(client, 'x');
    server.setBehavior(() => undefined);
    await say(client, 'x');
    expect(seen).toEqual(['NOT_FOUND', 'OK']);
    expect(counts(cbs)).toEqual({ s: 1, f: 2, t: 0 });
  });

  it('uses a replacement classifier for every outcome', async () => {
    const { cbs, client } = await setup({ serviceGetErrorType: () => ErrorType.Timeout }, () => undefined);
    await say(client, 'x');
    expect(counts(cbs)).toEqual({ s: 0, f: 0, t: 1 });
  });
});

describe('service-level breaker: runtime config', () => {
  it('applies updateServiceCBConfig to the calls that follow and keeps the statistics', async () => {
    const { cbs, client, server } = await setup({}, failing(grpc.status.UNAVAILABLE));
    cbs.updateServiceCBConfig(SAY, { errRate: 1, minSample: 1000 });
    for (let i = 0; i < 5; i++) await say(client, 'x');
    expect(cbs.servicePanel.breaker(SAY)?.state()).toBe(State.Closed);
    cbs.updateServiceCBConfig(SAY, { minSample: 6 });
    expect(cbs.serviceCBConfig(SAY)).toEqual({ enable: true, errRate: 1, minSample: 6 });
    await say(client, 'x');
    expect(cbs.servicePanel.breaker(SAY)?.state()).toBe(State.Open);
    expect(counts(cbs).f).toBe(6);

    cbs.updateServiceCBConfig(SAY, { enable: false });
    expect((await say(client, 'bypass')).error?.details).toMatch(/failed by test behaviour/);
    expect(server.hits.Say).toBe(7);
    expect(counts(cbs).f).toBe(6);
  });

  it('changes the default for keys with no config of their own', async () => {
    const { cbs, client } = await setup({ defaultServiceCBConfig: { minSample: 3 } }, failing(grpc.status.INTERNAL));
    expect(cbs.serviceCBConfig('any/key')).toEqual({ enable: true, errRate: 0.5, minSample: 3 });
    cbs.updateDefaultServiceCBConfig({ minSample: 2 });
    await say(client, 'x');
    await say(client, 'x');
    expect(cbs.servicePanel.breaker(SAY)?.state()).toBe(State.Open);
    cbs.updateServiceCBConfig(SAY, { minSample: 100 });
    cbs.removeServiceCBConfig(SAY);
    expect(cbs.serviceCBConfig(SAY).minSample).toBe(2);
  });

  const bad: [string, unknown, string, unknown][] = [
    ['errRate above 1', { errRate: 1.5 }, 'errRate', 1.5],
    ['errRate NaN', { errRate: Number.NaN }, 'errRate', Number.NaN],
    ['errRate string', { errRate: '0.5' }, 'errRate', '0.5'],
    ['minSample negative', { minSample: -1 }, 'minSample', -1],
    ['minSample fraction', { minSample: 2.5 }, 'minSample', 2.5],
    ['enable string', { enable: 'yes' }, 'enable', 'yes'],
    ['unknown field', { ErrRate: 0.3 }, 'ErrRate', 0.3],
    ['a field given twice', { errRate: 0.2, err_rate: 0.3 }, 'err_rate', 0.3],
    ['not an object', 'strict', 'config', 'strict'],
    ['null', null, 'config', null],
  ];
  it.each(bad)(
    'refuses a config with %s, naming the field and the value, and keeps the previous one',
    async (_name, cfg, field, value) => {
      const { cbs } = await setup();
      cbs.updateServiceCBConfig(SAY, { errRate: 0.3, minSample: 50 });
      let thrown: unknown;
      try {
        cbs.updateServiceCBConfig(SAY, cfg as never);
      } catch (e) {
        thrown = e;
      }
      expect(isCBConfigError(thrown)).toBe(true);
      expect(thrown).toMatchObject({ name: 'CBConfigError', field });
      expect(Object.is((thrown as { value: unknown }).value, value)).toBe(true);
      expect(cbs.serviceCBConfig(SAY)).toEqual({ enable: true, errRate: 0.3, minSample: 50 });
      expect(() => cbs.updateDefaultServiceCBConfig(cfg as never)).toThrow();
      expect(() => cbs.updateInstanceCBConfig(cfg as never)).toThrow();
      expect(cbs.serviceCBConfig('other')).toEqual({ enable: true, errRate: 0.5, minSample: 200 });
    },
  );

  it('refuses a key that is not a string', async () => {
    const { cbs } = await setup();
    expect(() => cbs.updateServiceCBConfig(42 as never, {})).toThrow(/key must be a string, got 42/);
  });
});

describe('service-level breaker: call kinds', () => {
  it('guards all four call kinds: outcomes recorded, rejections fail fast with the marker', async () => {
    const genKey: GenServiceCBKeyFunc = (ri) => `${ri.to}/${ri.method}`;
    const { cbs, client, server } = await setup({ defaultServiceCBConfig: { minSample: 2 } }, undefined, genKey);
    expect((await count(client, 'c', 3)).value).toHaveLength(3);
    expect((await collect(client, ['a', 'b'])).value?.text).toBe('a,b');
    expect((await chat(client, ['p', 'q'])).value?.map((m) => m.text)).toEqual(['p', 'q']);
    for (const method of ['Count', 'Collect', 'Chat']) {
      expect(counts(cbs, `echo.v1.Echo/${method}`)).toEqual({ s: 1, f: 0, t: 0 });
    }

    server.setBehavior(failing(grpc.status.UNAVAILABLE));
    for (let i = 0; i < 2; i++) {
      expect((await count(client, 'c', 3)).error?.code).toBe(grpc.status.UNAVAILABLE);
      expect((await collect(client, ['a'])).error?.code).toBe(grpc.status.UNAVAILABLE);
      expect((await chat(client, ['p'])).error?.code).toBe(grpc.status.UNAVAILABLE);
    }
    const before = { ...server.hits };
    const rejected = [await count(client, 'c', 3), await collect(client, ['a']), await chat(client, ['p'])];
    for (const r of rejected) {
      expect(isCircuitBreakError(r.error)).toBe(true);
      expect(r.error?.details).toBe('forbidden by circuitbreaker: service circuitbreak');
    }
    expect(server.hits).toEqual(before);
    expect(circuitBreakKey(rejected[1]?.error)).toBe('echo.v1.Echo/Collect');
  });

  it('records 1,000 concurrent calls exactly', async () => {
    const { cbs, client, server } = await setup({ defaultServiceCBConfig: { minSample: 100_000 } }, (_m, text) =>
      Number(text) % 2 ? { code: grpc.status.UNAVAILABLE } : undefined,
    );
    const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => say(client, String(i))));
    expect(results.filter((r) => r.error).length).toBe(500);
    expect(counts(cbs)).toEqual({ s: 500, f: 500, t: 0 });
    expect(server.hits.Say).toBe(1000);
  });
});

describe('service-level breaker: keys, interceptors and faults', () => {
  it('keys calls from/to/method by default and with a custom genServiceKey otherwise', async () => {
    const a = new CBSuite(undefined, { fromService: 'checkout' });
    expect(a.serviceKey('/echo.v1.Echo/Say')).toBe(SAY);
    expect(new CBSuite().serviceKey('/echo.v1.Echo/Say')).toBe('/echo.v1.Echo/Say');
    const b = new CBSuite((ri) => `${ri.to}#${ri.method}`);
    expect(b.serviceKey('/echo.v1.Echo/Say')).toBe('echo.v1.Echo#Say');
    expect(a.serviceKey('not-a-path')).toBe('checkout//not-a-path');
  });

  it('is dropped by per-call interceptors, and kept by cbs.interceptors(...)', async () => {
    const { cbs, client, server } = await setup(
      { defaultServiceCBConfig: { minSample: 1 } },
      failing(grpc.status.INTERNAL),
    );
    await say(client, 'x');
    const passthrough: grpc.Interceptor = (options, next) => new grpc.InterceptingCall(next(options));
    const bypassed = await say(client, 'x', { interceptors: [passthrough] });
    expect(bypassed.error?.details).toMatch(/failed by test behaviour/);
    const kept = await say(client, 'x', { interceptors: cbs.interceptors(passthrough) });
    expect(isCircuitBreakError(kept.error)).toBe(true);
    expect(server.hits.Say).toBe(2);
  });

  it('never throws into grpc-js: a failing key function lets the call through and reports a fault', async () => {
    const { cbs, client } = await setup({}, undefined, () => {
      throw new Error('key bug');
    });
    const faults: string[] = [];
    cbs.onFault((e) => faults.push(`${e.level}/${e.phase}: ${(e.error as Error).message}`));
    expect((await say(client, 'x')).value?.text).toBe('x');
    expect(faults).toEqual(['service/key: key bug']);
    expect(cbs.stats().service.faults).toBe(1);
  });

  it('a classifier that throws or returns garbage is reported; the caller still gets the real result', async () => {
    let bad: unknown = 'garbage';
    const { cbs, client } = await setup({
      serviceGetErrorType: () => {
        if (bad instanceof Error) throw bad;
        return bad as ErrorType;
      },
    });
    const faults: string[] = [];
    cbs.onFault((e) => faults.push(`${e.phase}: ${(e.error as Error).message}`));
    expect((await say(client, 'a')).value?.text).toBe('a');
    bad = new Error('classifier bug');
    expect((await say(client, 'b')).value?.text).toBe('b');
    expect(faults).toEqual([
      'record: the service classifier returned "garbage", not an ErrorType',
      'record: classifier bug',
    ]);
  });

  it('dumps in Kitex shape and keeps recent events', async () => {
    const { cbs, client } = await setup({}, failing(grpc.status.UNAVAILABLE));
    expect(cbs.dump().service).toEqual({ msg: 'all circuit breakers are in closed state' });
    cbs.updateServiceCBConfig(SAY, { minSample: 2 });
    await say(client, 'x');
    await say(client, 'x');
    expect(cbs.dump()).toEqual({
      service: {
        [SAY]: {
          state: 'OPEN',
          'successes in 10s': 0,
          'failures in 10s': 2,
          'timeouts in 10s': 0,
          'error rate in 10s': 1,
        },
      },
      instance: { msg: 'all circuit breakers are in closed state' },
      cb_config: {
        service: { [SAY]: { enable: true, errRate: 0.5, minSample: 2 } },
        instance: { enable: true, errRate: 0.5, minSample: 200 },
        service_default: { enable: true, errRate: 0.5, minSample: 200 },
        instance_overrides: {},
      },
    });
    expect(cbs.recentEvents()).toMatchObject([{ type: 'stateChange', key: SAY, toName: 'OPEN' }]);
  });

  it('after close() calls go through unprotected', async () => {
    const { cbs, client, server } = await setup(
      { defaultServiceCBConfig: { minSample: 1 } },
      failing(grpc.status.INTERNAL),
    );
    await say(client, 'x');
    expect(isCircuitBreakError((await say(client, 'x')).error)).toBe(true);
    cbs.close();
    expect((await say(client, 'x')).error?.details).toMatch(/failed by test behaviour/);
    expect(server.hits.Say).toBe(2);
  });

  it('validates its options', () => {
    expect(() => new CBSuite(undefined, { fromservice: 'x' } as never)).toThrow(/unknown field "fromservice"/);
    expect(() => new CBSuite(undefined, { fromService: 5 as never })).toThrow(/fromService must be a string, got 5/);
    expect(() => new CBSuite('key' as never)).toThrow(/genServiceKey must be a function/);
    expect(() => new CBSuite(undefined, { serviceBreaker: { coolingTimeoutMs: -1 } })).toThrow(
      'serviceBreaker.coolingTimeoutMs must be a finite number in [0, 86400000], got -1',
    );
    expect(() => new CBSuite(undefined, { instanceBreaker: { bucketNums: 5 } })).toThrow(/^instanceBreaker.bucketNums/);
    expect(() => new CBSuite(undefined, { serviceBreaker: { shouldTrip: () => true } as never })).toThrow(
      /serviceBreaker.shouldTrip is set by the suite/,
    );
    expect(() => new CBSuite(undefined, { defaultServiceCBConfig: { errRate: 2 } })).toThrow(
      'defaultServiceCBConfig.errRate must be a number in [0, 1], got 2',
    );
    expect(() => new CBSuite(undefined, { maxAttempts: 0 })).toThrow(
      /maxAttempts must be an integer in \[1, 10\], got 0/,
    );
    expect(() => new CBSuite(undefined, { instanceFailureCodes: ['NOT_FOUND' as never] })).toThrow(
      /instanceFailureCodes/,
    );
    expect(() => new CBSuite(undefined, { onMissingPolicy: 'ignore' as never })).toThrow(/onMissingPolicy/);
  });
});

describe('service-level breaker: server returning each status', () => {
  it('reports server hits per test server (sanity of the harness)', async () => {
    const server: EchoServer = await startEchoServer();
    cleanups.push(() => server.close());
    const client = new EchoClient(server.address, grpc.credentials.createInsecure());
    cleanups.push(() => client.close());
    expect((await say(client, 'hello')).value).toEqual({ text: 'hello', instance: server.address });
    expect(server.total()).toBe(1);
  });
});

import { State } from '@cbsuite/core';
import { CBSuite, isCBConfigError } from '@cbsuite/grpc-interceptor';
import { client, deletePrefix, sharedRedisUrl } from '@cbsuite/testkit/redis.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisSync } from './redis-sync.js';

// Two replicas of a client, as CBSuites in one process, shared through Redis.
const PREFIX = `cbs-test-suite-${process.pid}`;
let url: string;
let ns = 0;
const cleanups: (() => unknown)[] = [];

beforeAll(() => {
  url = sharedRedisUrl();
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(async () => {
  await deletePrefix(url, PREFIX);
});

async function replica(namespace: string) {
  const redis = client(url);
  const sync = new RedisSync({ redis, namespace, syncIntervalMs: 60_000 });
  const cbs = new CBSuite(undefined, { fromService: 'checkout', instanceCBConfig: { minSample: 3 }, sync });
  const opened = new Promise<string>((resolve) =>
    cbs.onStateChange((e) => e.toName === 'OPEN' && resolve(`${e.level} ${e.key} ${e.cause} fleet=${e.fleet}`)),
  );
  // Configs that arrived from the fleet, as `level key -> errRate/minSample`, in order.
  const fromFleet: string[] = [];
  let waiting: { n: number; resolve: () => void } | undefined;
  cbs.onConfigChange((e) => {
    if (e.source !== 'fleet') return;
    fromFleet.push(`${e.level} ${e.key ?? '(default)'} -> ${e.to.errRate}/${e.to.minSample}`);
    if (waiting !== undefined && fromFleet.length >= waiting.n) waiting.resolve();
  });
  /** Resolves with the configs from the fleet once `n` have arrived. */
  const fleetConfigs = (n: number) =>
    new Promise<string[]>((resolve) => {
      if (fromFleet.length >= n) resolve([...fromFleet]);
      else waiting = { n, resolve: () => resolve([...fromFleet]) };
    });
  cleanups.push(
    () => cbs.close(),
    () => sync.close(),
    () => redis.disconnect(),
  );
  await sync.ready();
  return { cbs, sync, opened, fleetConfigs };
}

describe('CBSuite with a RedisSync', () => {
  it('spares the other replicas an instance one of them found dead (instance quorum 1)', async () => {
    const n = `${PREFIX}-${++ns}`;
    const a = await replica(n);
    const b = await replica(n);
    const dead = '10.0.0.7:8080';
    // Both call the instance: each hears the states of the keys it uses.
    for (const x of [a, b]) {
      x.cbs.instancePanel.succeed(dead);
      await x.sync.flushNow();
    }
    for (let i = 0; i < 3; i++) a.cbs.instancePanel.fail(dead);
    expect(await a.opened).toBe(`instance ${dead} trip fleet=true`);
    expect(await b.opened).toBe(`instance ${dead} remote fleet=true`);
    expect(b.cbs.instancePanel.breaker(dead)?.state()).toBe(State.Open);
  });

  it('keeps service keys at quorum 2: one replica alone does not open the others', async () => {
    const n = `${PREFIX}-${++ns}`;
    const a = await replica(n);
    const b = await replica(n);
    const key = 'checkout/echo.v1.Echo/Say';
    a.cbs.updateServiceCBConfig(key, { minSample: 5 });
    for (let i = 0; i < 5; i++) a.cbs.servicePanel.fail(key);
    expect(await a.opened).toBe(`service ${key} trip fleet=false`);
    await a.sync.flushNow();
    await b.sync.flushNow();
    expect(b.cbs.servicePanel.breaker(key)?.state() ?? State.Closed).toBe(State.Closed);
  });

  it('publishes configs to every replica, refuses bad ones, and gives them to replicas that join later', async () => {
    const n = `${PREFIX}-${++ns}`;
    const a = await replica(n);
    const b = await replica(n);
    const key = 'checkout/echo.v1.Echo/Say';
    await expect(a.cbs.publishServiceCBConfig(key, { errRate: 7 })).rejects.toSatisfy(isCBConfigError);
    await a.cbs.publishServiceCBConfig(key, { errRate: 0.3, minSample: 50 });
    await a.cbs.publishDefaultServiceCBConfig({ minSample: 77 });
    await a.cbs.publishInstanceCBConfig({ errRate: 0.9 });
    // A value that is not a CBConfig, written by anything with access to Redis: refused, counted, nothing changes.
    await a.sync.publishConfig('cb-service', 'rogue', { errRate: 'high' });
    await a.sync.publishConfig('cb-service', 'sentinel', { minSample: 1 });
    expect(await b.fleetConfigs(4)).toEqual([
      `service ${key} -> 0.3/50`,
      'service (default) -> 0.5/77',
      'instance (default) -> 0.9/3',
      'service sentinel -> 0.5/1',
    ]);
    expect(b.cbs.serviceCBConfig(key)).toEqual({ enable: true, errRate: 0.3, minSample: 50 });
    expect(b.cbs.serviceCBConfig('rogue')).toEqual({ enable: true, errRate: 0.5, minSample: 77 });
    expect(b.sync.stats().refusedConfigs).toBe(1);

    const late = await replica(n);
    expect((await late.fleetConfigs(4)).sort()).toEqual([
      'instance (default) -> 0.9/3',
      'service (default) -> 0.5/77',
      `service ${key} -> 0.3/50`,
      'service sentinel -> 0.5/1',
    ]);
    expect(late.cbs.serviceCBConfig(key)).toEqual({ enable: true, errRate: 0.3, minSample: 50 });
    expect(late.cbs.serviceCBConfig('other')).toEqual({ enable: true, errRate: 0.5, minSample: 77 });
    expect(late.cbs.instanceCBConfig()).toEqual({ enable: true, errRate: 0.9, minSample: 3 });
    expect(late.cbs.serviceCBConfig('rogue')).toEqual({ enable: true, errRate: 0.5, minSample: 77 });
    expect(late.sync.stats().refusedConfigs).toBe(1);
  });

  it('forces modes on service and instance keys of every replica, and of replicas that join later', async () => {
    const n = `${PREFIX}-${++ns}`;
    const a = await replica(n);
    const b = await replica(n);
    const key = 'checkout/echo.v1.Echo/Say';
    const changed = new Promise<string>((resolve) =>
      b.cbs.onStateChange((e) => resolve(`${e.level} ${e.key} ${e.fromName}->${e.toName} ${e.cause}`)),
    );
    await a.cbs.publishServiceMode(key, 'forcedOpen');
    await a.cbs.publishInstanceMode('10.0.0.9:8080', 'disabled');
    expect(a.cbs.servicePanel.breaker(key)?.mode()).toBe('forcedOpen');
    expect(await changed).toBe(`service ${key} CLOSED->OPEN mode`);
    const late = await replica(n);
    expect(late.cbs.servicePanel.breaker(key)?.mode()).toBe('forcedOpen');
    expect(late.cbs.instancePanel.breaker('10.0.0.9:8080')?.mode()).toBe('disabled');
    await a.cbs.publishServiceMode(key, 'normal');
    await late.sync.flushNow();
    const cleared = await replica(n);
    expect(cleared.cbs.servicePanel.breaker(key)?.mode() ?? 'normal').toBe('normal');
    await expect(new CBSuite().publishServiceMode(key, 'forcedOpen')).rejects.toThrow(
      /needs the CBSuite option `sync`/,
    );
  });

  it('refuses to publish without a sync', async () => {
    await expect(new CBSuite().publishServiceCBConfig('k', {})).rejects.toThrow(/needs the CBSuite option `sync`/);
    expect(() => new CBSuite(undefined, { sync: {} as never })).toThrow(/sync must be a fleet sync/);
  });
});

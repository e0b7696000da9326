import { isOptionError, show } from '@cbsuite/core';
import { CBSuite, isCBConfigError } from '@cbsuite/grpc-interceptor';
import {
  type Accepts,
  expectOptionError,
  isFunction,
  isInt,
  isNumber,
  refusedBy,
  thrownBy,
} from '@cbsuite/testkit/bad-input.js';
import { client, deletePrefix, sharedRedisUrl } from '@cbsuite/testkit/redis.js';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Keys } from './keys.js';
import { RedisSync, type RedisSyncOptions } from './redis-sync.js';

// RedisSync's options and the publish* methods of a synced CBSuite, with
// the values of the bad-input tables: each is refused, naming the option and
// showing the value as code writes it; `null` is refused like any wrong type.

const PREFIX = `cbs-test-options-${process.pid}`;
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(() => deletePrefix(sharedRedisUrl(), PREFIX));

function lazyClient() {
  const redis = client(sharedRedisUrl(), { lazyConnect: true });
  cleanups.push(() => redis.disconnect());
  return redis;
}
const build = (o: Partial<RedisSyncOptions>) =>
  new RedisSync({ redis: lazyClient(), namespace: `${PREFIX}-x`, ...o } as RedisSyncOptions);

// Every field, typed: OptionTypeError / OptionRangeError naming it and showing the value.
const isPlain =
  (re: RegExp): Accepts =>
  (v) =>
    typeof v === 'string' && re.test(v);
const FIELDS: Record<string, Accepts> = {
  syncIntervalMs: isInt(10, 60_000),
  errorSyncIntervalMs: isInt(10, 600_000),
  quietSyncIntervalMs: isInt(10, 600_000),
  quorum: (v) => isInt(1, 1000)(v) || (typeof v === 'object' && v !== null && !Array.isArray(v)),
  syncBuckets: isInt(1, 100),
  groups: isInt(1, 1024),
  leaseTtlMs: isInt(10, 3_600_000),
  staleAfterMs: isInt(200, 3_600_000),
  flushTimeoutMs: isInt(1, 3_600_000),
  configTtlMs: isInt(1000, 365 * 86_400_000),
  maxSkewMs: isInt(0, 60_000),
  maxNodeCallsPerSec: isInt(1, 1e9),
  readyTimeoutMs: isInt(1, 3_600_000),
  reconnectMaxMs: isInt(10, 60_000),
  now: isFunction,
  onError: isFunction,
  namespace: isPlain(/^[A-Za-z0-9._-]{1,64}$/),
  nodeId: isPlain(/^[A-Za-z0-9._:-]{1,64}$/),
  secret: (v) => (typeof v === 'string' && v.length > 0) || Buffer.isBuffer(v),
  quorumByScope: (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
  redis: () => false,
};

const rows: [string, unknown][] = [];
for (const [f, accepts] of Object.entries(FIELDS)) {
  for (const [, v] of refusedBy(accepts, [['an empty string', '']])) rows.push([f, v]);
}
for (const [, v] of refusedBy(FIELDS.quorum as Accepts)) rows.push(['quorumByScope.service', v]);
for (const [, v] of refusedBy(isNumber(0, 1))) rows.push(['quorum.share', v]);

describe('new RedisSync refuses bad options', () => {
  it.each(rows)('%s = %s', (path, value) => {
    const options =
      path === 'quorumByScope.service'
        ? { quorumByScope: { service: value } }
        : path === 'quorum.share'
          ? { quorum: { share: value, min: 2 } }
          : { [path]: value };
    expectOptionError(
      thrownBy(() => build(options as never)),
      path,
      value,
    );
  });

  it('an unknown option, and options that are not an object', () => {
    expect(() => build({ flushEvery: 1 } as never)).toThrow(/^RedisSync options has an unknown field "flushEvery"/);
    expect(isOptionError(thrownBy(() => new RedisSync(null as never)))).toBe(true);
  });
});

describe('publish* of a synced CBSuite refuse bad configs and publish nothing', () => {
  it.each([
    ['publishServiceCBConfig', (c: CBSuite, v: unknown) => c.publishServiceCBConfig('k', { errRate: v as never })],
    [
      'publishDefaultServiceCBConfig',
      (c: CBSuite, v: unknown) => c.publishDefaultServiceCBConfig({ errRate: v as never }),
    ],
    ['publishInstanceCBConfig', (c: CBSuite, v: unknown) => c.publishInstanceCBConfig({ errRate: v as never })],
    [
      'publishInstanceCBConfigFor',
      (c: CBSuite, v: unknown) => c.publishInstanceCBConfigFor('a:1', { errRate: v as never }),
    ],
  ])('%s', async (_name, publish) => {
    const redis = client(sharedRedisUrl());
    const namespace = `${PREFIX}-${Math.random().toString(36).slice(2)}`;
    const sync = new RedisSync({ redis, namespace });
    const cbs = new CBSuite(undefined, { sync });
    cleanups.push(
      () => redis.quit(),
      () => sync.close(),
      () => cbs.close(),
    );
    const before = JSON.stringify(cbs.dump());
    for (const [, v] of refusedBy((x) => typeof x === 'number' && x >= 0 && x <= 1)) {
      const err = await publish(cbs, v).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isCBConfigError(err)).toBe(true);
      expect(err).toMatchObject({ field: 'errRate' });
      expect((err as Error).message).toBe(`errRate must be a number in [0, 1], got ${show(v)}`);
    }
    expect(JSON.stringify(cbs.dump())).toBe(before);
    expect(await redis.hlen(new Keys(namespace, 12).config)).toBe(0);
  });
});

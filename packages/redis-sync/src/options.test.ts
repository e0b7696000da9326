import { show } from '@cbsuite/core';
import { client, sharedRedisUrl } from '@cbsuite/testkit/redis.js';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { checkQuorum, type RedisSyncOptions, resolveSyncOptions } from './options.js';

// Every option of a RedisSync, refused with a typed error that names it and
// shows the value as it was written.
const redis = client(sharedRedisUrl(), { lazyConnect: true });
afterAll(() => redis.disconnect());
const make = (over: Record<string, unknown>) =>
  resolveSyncOptions({ redis, namespace: 'ok', ...over } as unknown as RedisSyncOptions);

describe('RedisSync options', () => {
  it('applies the defaults', () => {
    const o = make({});
    expect(o).toMatchObject({
      syncIntervalMs: 200,
      errorSyncIntervalMs: 1000,
      quietSyncIntervalMs: 5000,
      quorum: 2,
      syncBuckets: 5,
      groups: 12,
      leaseTtlMs: 2000,
      staleAfterMs: 1000,
      flushTimeoutMs: 1000,
      configTtlMs: 7 * 86_400_000,
      maxSkewMs: 1000,
      maxNodeCallsPerSec: 1_000_000,
      readyTimeoutMs: 10_000,
      reconnectMaxMs: 200,
      secret: undefined,
    });
    expect([...o.quorumByScope]).toEqual([['instance', 1]]);
    expect(o.nodeId).toMatch(/^[0-9a-f]{12}$/);
  });

  const cases: [Record<string, unknown>, typeof TypeError, string][] = [
    [{ namespace: 'has space' }, TypeError, 'namespace must be 1-64 characters of A-Z a-z 0-9 . _ -, got "has space"'],
    [{ namespace: 5n }, TypeError, 'namespace must be 1-64 characters of A-Z a-z 0-9 . _ -, got 5n'],
    [{ namespace: null }, TypeError, 'namespace must be 1-64 characters of A-Z a-z 0-9 . _ -, got null'],
    [{ syncIntervalMs: 5 }, RangeError, 'syncIntervalMs must be an integer in [10, 60000], got 5'],
    [{ syncIntervalMs: Number.NaN }, RangeError, 'syncIntervalMs must be a number, got NaN'],
    [{ syncIntervalMs: 1.5 }, RangeError, 'syncIntervalMs must be an integer in [10, 60000], got 1.5'],
    [{ syncIntervalMs: null }, TypeError, 'syncIntervalMs must be a number, got null'],
    [{ quietSyncIntervalMs: '5s' }, TypeError, 'quietSyncIntervalMs must be a number, got "5s"'],
    [{ quorum: 0 }, RangeError, 'quorum must be an integer in [1, 1000], got 0'],
    [{ quorum: Number.POSITIVE_INFINITY }, RangeError, 'quorum must be an integer in [1, 1000], got Infinity'],
    [{ quorum: { share: 0 } }, RangeError, 'quorum.share must be a finite number in (0, 1], got 0'],
    [{ quorum: { share: 2, min: 2 } }, RangeError, 'quorum.share must be a finite number in [0, 1], got 2'],
    [{ quorum: { share: 0.5, min: 0 } }, RangeError, 'quorum.min must be an integer in [1, 1000], got 0'],
    [{ quorum: { min: 2 } }, TypeError, 'quorum.share is required, got undefined'],
    [{ quorum: { share: 0.5, most: 3 } }, TypeError, 'quorum has an unknown field "most"'],
    [{ quorumByScope: null }, TypeError, 'quorumByScope must be an object of scope: quorum, got null'],
    [{ quorumByScope: { instance: -1 } }, RangeError, 'quorumByScope.instance must be an integer in [1, 1000], got -1'],
    [{ secret: '' }, TypeError, 'secret must be a non-empty string or a Buffer, got ""'],
    [{ secret: 42 }, TypeError, 'secret must be a non-empty string or a Buffer, got 42'],
    [{ nodeId: 'a b' }, TypeError, 'nodeId must be 1-64 of A-Z a-z 0-9 . _ : -, got "a b"'],
    [{ nodeId: null }, TypeError, 'nodeId must be 1-64 of A-Z a-z 0-9 . _ : -, got null'],
    [{ syncBuckets: 0 }, RangeError, 'syncBuckets must be an integer in [1, 100], got 0'],
    [{ groups: 2000 }, RangeError, 'groups must be an integer in [1, 1024], got 2000'],
    [{ leaseTtlMs: -1 }, RangeError, 'leaseTtlMs must be an integer in [10, 3600000], got -1'],
    [{ staleAfterMs: 10 }, RangeError, 'staleAfterMs must be an integer in [200, 3600000], got 10'],
    [{ maxSkewMs: 1e9 }, RangeError, 'maxSkewMs must be an integer in [0, 60000], got 1000000000'],
    [{ maxNodeCallsPerSec: 0 }, RangeError, 'maxNodeCallsPerSec must be an integer in [1, 1000000000], got 0'],
    [{ readyTimeoutMs: 0 }, RangeError, 'readyTimeoutMs must be an integer in [1, 3600000], got 0'],
    [{ reconnectMaxMs: 1 }, RangeError, 'reconnectMaxMs must be an integer in [10, 60000], got 1'],
    [{ now: 5 }, TypeError, 'now must be a function, got 5'],
    [{ onError: 'log' }, TypeError, 'onError must be a function, got "log"'],
    [{ redis: {} }, TypeError, 'redis must be an ioredis Redis or Cluster client, got {}'],
    [{ flushEvery: 1 }, TypeError, 'RedisSync options has an unknown field "flushEvery"'],
  ];
  it.each(cases.map(([bad, type, message]) => [show(bad), bad, type, message] as const))(
    'refuses %s',
    (_name, bad, type, message) => {
      let err: unknown;
      try {
        make(bad);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(type);
      expect((err as Error).message.startsWith(message)).toBe(true);
    },
  );

  it('refuses any value of the wrong kind for a numeric option, naming the option', () => {
    const numeric = ['syncIntervalMs', 'quietSyncIntervalMs', 'syncBuckets', 'groups', 'leaseTtlMs', 'maxSkewMs'];
    fc.assert(
      fc.property(
        fc.constantFrom(...numeric),
        fc.oneof(
          fc.string(),
          fc.boolean(),
          fc.constant(null),
          fc.bigInt(),
          fc.double({ noInteger: true }),
          fc.object(),
        ),
        (name, value) => {
          expect(() => make({ [name]: value })).toThrow(new RegExp(`^${name} must be`));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('takes a quorum as a count or a share with a floor', () => {
    expect(checkQuorum('q', 3)).toBe(3);
    expect(checkQuorum('q', { share: 0.5 })).toEqual({ share: 0.5, min: 1 });
    expect(checkQuorum('q', { share: 0.25, min: 3 })).toEqual({ share: 0.25, min: 3 });
  });
});

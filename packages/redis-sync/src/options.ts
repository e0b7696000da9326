import { randomBytes } from 'node:crypto';
import {
  checkFunction,
  checkInteger,
  checkKeys,
  checkNumber,
  OptionRangeError,
  OptionTypeError,
  type Quorum,
} from '@cbsuite/core';
import type { Cluster, Redis } from 'ioredis';

/** Options of a `RedisSync`. Durations in ms. */
export interface RedisSyncOptions {
  /**
   * The ioredis client (`Redis` or `Cluster`) whose address, AUTH and TLS the
   * sync uses. The sync sends nothing on it: it opens connections of its own
   * from it (`duplicate()`), with its own short reconnect schedule, and
   * closes them in `close()`. Your client stays yours.
   */
  readonly redis: Redis | Cluster;
  /** Prefix of every Redis key and channel of this fleet: 1-64 of `A-Z a-z 0-9 . _ -`. */
  readonly namespace: string;
  /** How often keys with something to say (errors, a failing node, a lease, a new state) are flushed. Default 200. */
  readonly syncIntervalMs?: number;
  /**
   * How often keys whose errors stay below the trip (this node is not
   * failing) are flushed. Default 1000.
   */
  readonly errorSyncIntervalMs?: number;
  /**
   * How often keys with nothing to say (successes only) are flushed, at most
   * half a window. Default 5000.
   */
  readonly quietSyncIntervalMs?: number;
  /**
   * Failing nodes a fleet-wide open needs: a count, this node included, or
   * a share of the nodes reporting the key with a floor (`{ share: 0.5, min:
   * 2 }`). Default 2: one sick node opens only its own breaker. With 1, any
   * node's trip opens everyone's.
   */
  readonly quorum?: Quorum;
  /**
   * Quorum per scope, over `quorum`. Default `{ instance: 1 }`: an instance
   * breaker counts connection failures, a fact about the instance, so one
   * node finding an instance dead spares the others.
   */
  readonly quorumByScope?: Readonly<Record<string, Quorum>>;
  /**
   * Authenticates what nodes act on (HMAC-SHA256): state, config and mode
   * messages, probe leases and failing-node entries. Anything that fails the
   * check is ignored and counted.
   */
  readonly secret?: string | Buffer;
  /** This node's name in Redis, unique in the fleet. Default: random. */
  readonly nodeId?: string;
  /** Buckets of the shared window in Redis (each `window / syncBuckets` long). Default 5. */
  readonly syncBuckets?: number;
  /**
   * Key groups: each group's keys share one Redis Cluster slot, one flush
   * call per node and one pub/sub channel. Default 12 (the groups spread
   * evenly over 2, 3, 4, 6 or 12 masters).
   */
  readonly groups?: number;
  /** Lifetime of the fleet's probe lease; its holder renews it each flush. Default 2000. */
  readonly leaseTtlMs?: number;
  /** A fleet view not refreshed for this long past its cadence is ignored: decisions become local. Default `max(1000, 3 × syncIntervalMs)`. */
  readonly staleAfterMs?: number;
  /** A flush slower than this marks Redis unhealthy until the next good flush. Default `max(1000, 5 × syncIntervalMs)`. */
  readonly flushTimeoutMs?: number;
  /** Lifetime of published configs and modes in Redis, refreshed whenever one is published. Default 7 days. */
  readonly configTtlMs?: number;
  /** Versions (times) more than this ahead of the Redis server's clock are refused. Default 1000. */
  readonly maxSkewMs?: number;
  /** Calls per second one node may plausibly make to one key; counts beyond it are ignored and counted. Default 1,000,000. */
  readonly maxNodeCallsPerSec?: number;
  /** `ready()` rejects after this long without reaching Redis. Default 10,000. */
  readonly readyTimeoutMs?: number;
  /** Longest wait between reconnection attempts of the sync's own connections. Default 200. */
  readonly reconnectMaxMs?: number;
  /** The wall clock, to estimate the Redis server's clock. Default `Date.now`. */
  readonly now?: () => number;
  /** Called with errors of the sync itself (Redis errors included). Default: counted only. */
  readonly onError?: (err: unknown) => void;
}

const OPTION_NAMES = Object.keys({
  redis: true,
  namespace: true,
  syncIntervalMs: true,
  errorSyncIntervalMs: true,
  quietSyncIntervalMs: true,
  quorum: true,
  quorumByScope: true,
  secret: true,
  nodeId: true,
  syncBuckets: true,
  groups: true,
  leaseTtlMs: true,
  staleAfterMs: true,
  flushTimeoutMs: true,
  configTtlMs: true,
  maxSkewMs: true,
  maxNodeCallsPerSec: true,
  readyTimeoutMs: true,
  reconnectMaxMs: true,
  now: true,
  onError: true,
} satisfies Record<keyof RedisSyncOptions, true>);

/** The options with defaults applied. */
export interface ResolvedSyncOptions {
  readonly redis: Redis | Cluster;
  readonly namespace: string;
  readonly syncIntervalMs: number;
  readonly errorSyncIntervalMs: number;
  readonly quietSyncIntervalMs: number;
  readonly quorum: Quorum;
  readonly quorumByScope: ReadonlyMap<string, Quorum>;
  readonly secret: Buffer | undefined;
  readonly nodeId: string;
  readonly syncBuckets: number;
  readonly groups: number;
  readonly leaseTtlMs: number;
  readonly staleAfterMs: number;
  readonly flushTimeoutMs: number;
  readonly configTtlMs: number;
  readonly maxSkewMs: number;
  readonly maxNodeCallsPerSec: number;
  readonly readyTimeoutMs: number;
  readonly reconnectMaxMs: number;
  readonly now: () => number;
  readonly onError: ((err: unknown) => void) | undefined;
}

const NAMESPACE = /^[A-Za-z0-9._-]{1,64}$/;
const NODE_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** Checks a quorum: an integer in [1, 1000], or `{ share: (0, 1], min: [1, 1000] }`. */
export function checkQuorum(name: string, q: unknown): Quorum {
  if (typeof q === 'object' && q !== null && !Array.isArray(q)) {
    const o = checkKeys(name, q, ['share', 'min'], name);
    if (o.share === undefined) throw new OptionTypeError(`${name}.share`, undefined, 'is required');
    const share = checkNumber(`${name}.share`, o.share, 0, 1);
    if (share === 0) throw new OptionRangeError(`${name}.share`, 0, 'must be a finite number in (0, 1]');
    const min = o.min === undefined ? 1 : checkInteger(`${name}.min`, o.min, 1, 1000);
    return { share, min };
  }
  return checkInteger(name, q, 1, 1000);
}

/** Validates `options` (throws a `TypeError`/`RangeError` naming the option and the value) and applies the defaults. */
export function resolveSyncOptions(options: RedisSyncOptions): ResolvedSyncOptions {
  const o = checkKeys('RedisSync options', options, OPTION_NAMES) as unknown as RedisSyncOptions;
  const redis = o.redis;
  if (typeof redis !== 'object' || redis === null || typeof (redis as Redis).duplicate !== 'function') {
    throw new OptionTypeError('redis', redis, 'must be an ioredis Redis or Cluster client');
  }
  if (typeof o.namespace !== 'string' || !NAMESPACE.test(o.namespace)) {
    throw new OptionTypeError('namespace', o.namespace, 'must be 1-64 characters of A-Z a-z 0-9 . _ -');
  }
  const int = (name: keyof RedisSyncOptions, dflt: number, min: number, max: number): number =>
    o[name] === undefined ? dflt : checkInteger(name, o[name], min, max);
  const syncIntervalMs = int('syncIntervalMs', 200, 10, 60_000);
  const quorumByScope = new Map<string, Quorum>();
  if (o.quorumByScope === undefined) quorumByScope.set('instance', 1);
  else {
    const byScope = o.quorumByScope;
    if (typeof byScope !== 'object' || byScope === null || Array.isArray(byScope)) {
      throw new OptionTypeError('quorumByScope', byScope, 'must be an object of scope: quorum');
    }
    for (const [scope, q] of Object.entries(byScope))
      quorumByScope.set(scope, checkQuorum(`quorumByScope.${scope}`, q));
  }
  const secret = o.secret;
  if (secret !== undefined && !(typeof secret === 'string' && secret.length > 0) && !Buffer.isBuffer(secret)) {
    throw new OptionTypeError('secret', secret, 'must be a non-empty string or a Buffer');
  }
  if (o.nodeId !== undefined && (typeof o.nodeId !== 'string' || !NODE_ID.test(o.nodeId))) {
    throw new OptionTypeError('nodeId', o.nodeId, 'must be 1-64 of A-Z a-z 0-9 . _ : -');
  }
  return {
    redis,
    namespace: o.namespace,
    syncIntervalMs,
    errorSyncIntervalMs: int('errorSyncIntervalMs', 1000, 10, 600_000),
    quietSyncIntervalMs: int('quietSyncIntervalMs', 5000, 10, 600_000),
    quorum: o.quorum === undefined ? 2 : checkQuorum('quorum', o.quorum),
    quorumByScope,
    secret: secret === undefined ? undefined : Buffer.from(secret),
    nodeId: o.nodeId ?? randomBytes(6).toString('hex'),
    syncBuckets: int('syncBuckets', 5, 1, 100),
    groups: int('groups', 12, 1, 1024),
    leaseTtlMs: int('leaseTtlMs', 2000, 10, 3_600_000),
    staleAfterMs: int('staleAfterMs', Math.max(1000, 3 * syncIntervalMs), syncIntervalMs, 3_600_000),
    flushTimeoutMs: int('flushTimeoutMs', Math.max(1000, 5 * syncIntervalMs), 1, 3_600_000),
    configTtlMs: int('configTtlMs', 7 * 86_400_000, 1000, 365 * 86_400_000),
    maxSkewMs: int('maxSkewMs', 1000, 0, 60_000),
    maxNodeCallsPerSec: int('maxNodeCallsPerSec', 1_000_000, 1, 1e9),
    readyTimeoutMs: int('readyTimeoutMs', 10_000, 1, 3_600_000),
    reconnectMaxMs: int('reconnectMaxMs', 200, 10, 60_000),
    now: o.now === undefined ? Date.now : checkFunction<() => number>('now', o.now),
    onError: o.onError === undefined ? undefined : checkFunction<(err: unknown) => void>('onError', o.onError),
  };
}

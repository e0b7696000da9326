// Nodes of one fleet in one process, each with its own client, clock and
// panel: the tests flush by hand (flushNow, flushDue) so that every step is
// explicit.
import { Panel, type PanelOptions, rateTripFunc } from '@cbsuite/core';
import { ManualClock } from '@cbsuite/testkit/manual-clock.js';
import { client } from '@cbsuite/testkit/redis.js';
import type { Cluster, Redis } from 'ioredis';
import { expect } from 'vitest';
import { Keys } from '../keys.js';
import { RedisSync, type RedisSyncOptions } from '../redis-sync.js';

export const KEY = 'checkout/echo.v1.Echo/Say';

export interface SyncNode {
  readonly clock: ManualClock;
  readonly redis: Redis | Cluster;
  readonly sync: RedisSync;
  readonly panel: Panel;
  /** Transitions as `key from>to cause[ fleet]`. */
  readonly transitions: string[];
  /** Resolves with the next transition. */
  changed(): Promise<string>;
  /** Errors the sync reported (`onError`). */
  readonly errors: unknown[];
  fail(times: number, key?: string): void;
  succeed(times: number, key?: string): void;
}

export interface SyncNodeOptions extends Partial<Omit<RedisSyncOptions, 'redis'>> {
  url?: string;
  redis?: Redis | Cluster;
  panel?: PanelOptions;
  /** This node's wall clock minus the real one. */
  skewMs?: number;
  /** Wait until the sync reached Redis (default true). */
  ready?: boolean;
  scope?: string;
}

/** Makes nodes; `cleanup()` closes them all. */
export function syncNodes(defaultUrl: () => string) {
  const cleanups: (() => unknown)[] = [];
  async function node(namespace: string, o: SyncNodeOptions = {}): Promise<SyncNode> {
    const skew = o.skewMs ?? 0;
    const clock = new ManualClock(Date.now() + skew);
    const redis = o.redis ?? client(o.url ?? defaultUrl());
    const { url: _u, redis: _r, panel: panelOptions, skewMs: _s, ready = true, scope = 'svc', ...syncOptions } = o;
    const errors: unknown[] = [];
    const sync = new RedisSync({
      redis,
      namespace,
      syncIntervalMs: 60_000,
      now: () => Date.now() + skew,
      onError: (err) => errors.push(err),
      ...syncOptions,
    });
    const transitions: string[] = [];
    let waiting: ((t: string) => void) | undefined;
    const panel = new Panel(
      { now: clock.now, shouldTrip: rateTripFunc(0.5, 20), ...panelOptions },
      (key, from, to, _m, info) => {
        const t = `${key} ${from}>${to} ${info.cause}${info.fleet ? ' fleet' : ''}`;
        transitions.push(t);
        waiting?.(t);
      },
    );
    sync.attach(panel, scope);
    cleanups.push(
      () => sync.close(),
      () => {
        if (o.redis === undefined) redis.disconnect();
      },
    );
    if (ready) await sync.ready();
    const changed = () =>
      new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => {
          const why = errors.map((e) => (e instanceof Error ? e.message : String(e))).join('; ');
          reject(new Error(`no state change within 5 s; the sync's errors: ${why || 'none'}`));
        }, 5000);
        waiting = (t) => {
          clearTimeout(timer);
          waiting = undefined;
          resolve(t);
        };
      });
    return {
      clock,
      redis,
      sync,
      errors,
      panel,
      transitions,
      changed,
      fail: (times, key = KEY) => {
        for (let i = 0; i < times; i++) panel.fail(key);
      },
      succeed: (times, key = KEY) => {
        for (let i = 0; i < times; i++) panel.succeed(key);
      },
    };
  }
  return {
    node,
    cleanup: async () => {
      for (const c of cleanups.splice(0).reverse()) await c();
    },
    defer: (c: () => unknown) => cleanups.push(c),
  };
}

/** The Redis keys of a breaker in `namespace` (default: scope `svc`, key {@link KEY}). */
export function breakerKeys(namespace: string, key = KEY, scope = 'svc', groups = 12) {
  const keys = new Keys(namespace, groups);
  return { ...keys.breaker(scope, key), keys };
}

/** Two nodes whose breaker for {@link KEY} opened for the fleet (B tripped it; A heard). */
export async function openFleet(
  node: (n: string, o?: SyncNodeOptions) => Promise<SyncNode>,
  n: string,
  o: SyncNodeOptions = {},
): Promise<[SyncNode, SyncNode]> {
  const a = await node(n, o);
  const b = await node(n, o);
  a.fail(10);
  await a.sync.flushNow();
  b.fail(9);
  await b.sync.flushNow();
  const heard = a.changed();
  b.fail(1);
  expect(b.transitions).toEqual([`${KEY} 2>0 trip fleet`]);
  expect(await heard).toBe(`${KEY} 2>0 remote fleet`);
  await b.sync.settled();
  return [a, b];
}

/** A window record as the scripts store it: little-endian doubles. */
export function packRecord(...values: number[]): Buffer {
  const b = Buffer.alloc(8 * values.length);
  for (let i = 0; i < values.length; i++) b.writeDoubleLE(values[i] as number, 8 * i);
  return b;
}

/** A window's header, [epoch, s, f, t, slow, failing, reporting], or undefined. */
export async function readHeader(redis: Redis | Cluster, window: string): Promise<number[] | undefined> {
  const b = await redis.hgetBuffer(window, 'h');
  if (b === null || b.length !== 56) return undefined;
  return Array.from({ length: 7 }, (_, i) => b.readDoubleLE(8 * i));
}

import { randomBytes } from 'node:crypto';
import {
  type Breaker,
  checkFunction,
  checkInteger,
  checkKeys,
  FleetLink,
  type FleetSync,
  type PanelSync,
  type PendingCounts,
  State,
  type SyncedPanel,
  show,
  type TransitionInfo,
} from '@cbsuite/core';
import type { Cluster, Redis } from 'ioredis';
import { breakerTag, checkNamespace, Keys } from './keys.js';
import { type ConfigMessage, MessageCodec, type Refusal, type StateMessage } from './messages.js';
import { FLUSH, PUT_STATE, RELEASE_LEASE, SERVER_TIME } from './scripts.js';

/** Options of a {@link RedisSync}. Durations in ms. */
export interface RedisSyncOptions {
  /**
   * The ioredis client (`Redis` or `Cluster`). AUTH, TLS and reconnection are
   * its own options. The sync never closes it; it opens one more connection
   * (`duplicate()`) for pub/sub, and closes that one.
   */
  readonly redis: Redis | Cluster;
  /** Prefix of every Redis key and channel of this fleet: 1-64 of `A-Z a-z 0-9 . _ -`. */
  readonly namespace: string;
  /** How often counts are flushed and the fleet's view refreshed. Default 200. */
  readonly syncIntervalMs?: number;
  /**
   * Distinct nodes that must report errors for a key before it opens for the
   * whole fleet. Default 2: one sick node opens only its own breaker. With 1,
   * any node's trip opens everyone's.
   */
  readonly quorum?: number;
  /**
   * Quorum per scope, over `quorum`. Default `{ instance: 1 }`: an instance
   * breaker counts connection failures, a fact about the instance, so one
   * node finding an instance dead spares the others.
   */
  readonly quorumByScope?: Readonly<Record<string, number>>;
  /** Authenticates state and config messages (HMAC-SHA256); messages that fail are ignored and counted. */
  readonly secret?: string | Buffer;
  /** This node's name in Redis. Default: random. */
  readonly nodeId?: string;
  /** Buckets of the shared window in Redis (each `window / syncBuckets` long). Default 10. */
  readonly syncBuckets?: number;
  /** Lifetime of the fleet's probe lease; its holder renews it each flush. Default 2000. */
  readonly leaseTtlMs?: number;
  /** A fleet view older than this is ignored (Redis unreachable): decisions become local. Default `max(1000, 3 × syncIntervalMs)`. */
  readonly staleAfterMs?: number;
  /** A flush slower than this marks Redis unhealthy until the next good flush. Default `max(1000, 5 × syncIntervalMs)`. */
  readonly flushTimeoutMs?: number;
  /** Lifetime of published configs in Redis, refreshed whenever a node (re)connects. Default 7 days. */
  readonly configTtlMs?: number;
  /** The wall clock, to estimate the Redis server's clock. Default `Date.now`. */
  readonly now?: () => number;
  /** Called with errors of the sync itself (Redis errors included). Default: counted only. */
  readonly onError?: (err: unknown) => void;
}

const OPTION_NAMES = [
  'redis',
  'namespace',
  'syncIntervalMs',
  'quorum',
  'quorumByScope',
  'secret',
  'nodeId',
  'syncBuckets',
  'leaseTtlMs',
  'staleAfterMs',
  'flushTimeoutMs',
  'configTtlMs',
  'now',
  'onError',
];

/** Counters of a {@link RedisSync}. */
export interface RedisSyncStats {
  readonly nodeId: string;
  /** Whether the last flush reached Redis in time. */
  readonly connected: boolean;
  readonly flushes: number;
  readonly failedFlushes: number;
  /** Redis commands sent (scripts and plain commands). */
  readonly commands: number;
  /** Breakers shared. */
  readonly keys: number;
  /** Probe leases this node holds. */
  readonly leases: number;
  /** Messages and records read from Redis and refused, by reason. */
  readonly refused: Readonly<Record<Refusal, number>>;
  /** Config values a handler refused. */
  readonly refusedConfigs: number;
  /** Counts dropped because they could not be sent before they left the window. */
  readonly droppedStale: number;
  /** State messages applied from other nodes. */
  readonly appliedStates: number;
}

interface Tracked {
  readonly scope: Scope;
  readonly key: string;
  readonly breaker: Breaker;
  readonly link: FleetLink;
  readonly keys: [string, string, string, string];
  /** This node's flushed counts per server bucket: [epoch, s, f, t, slow] × buckets. */
  own: Float64Array | undefined;
  /** Server time of the newest state applied or published. */
  stateTs: number;
  leaseHeld: boolean;
}

interface Scope {
  readonly name: string;
  readonly quorum: number;
  readonly panel: SyncedPanel;
  readonly tracked: Map<string, Tracked>;
  readonly windowMs: number;
  readonly bucketMs: number;
  readonly now: () => number;
}

type FlushResult = [number, number, number, number, number, number, number, number, string];

interface SyncCommands {
  cbsFlush(...args: (string | number)[]): Promise<unknown>;
  cbsPutState(...args: (string | number)[]): Promise<unknown>;
  cbsReleaseLease(...args: (string | number)[]): Promise<unknown>;
  cbsServerTime(): Promise<unknown>;
}

const int = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * Shares breakers across a fleet of replicas through Redis, off the call
 * path: each node decides from memory; every `syncIntervalMs` it sends the
 * counts it recorded (one round trip for all keys) and gets back the fleet's
 * totals, the stored state and its probe lease.
 *
 * - **Fleet window**: a key trips on this node's counts plus the rest of the
 *   fleet's, so a fleet trips after about `minSample` calls in all.
 * - **Shared state**: an open (or close) decided for the fleet is stored with
 *   an expiry and published; the others apply it at once, late joiners from
 *   the store.
 * - **One probe for the fleet**: after cooling, only the holder of the probe
 *   lease goes HALF_OPEN; the others keep rejecting until it shares the result.
 * - **Quorum**: a fleet-wide open needs errors from `quorum` nodes; one sick
 *   node opens only its own breaker.
 * - **Redis trouble** never delays or fails a call: when Redis is slow or
 *   gone, nodes decide alone, and catch up when it returns.
 */
export class RedisSync implements FleetSync, PanelSync {
  readonly nodeId: string;
  private readonly redis: Redis | Cluster;
  private readonly cmd: SyncCommands;
  private readonly keys: Keys;
  private readonly codec: MessageCodec;
  private readonly intervalMs: number;
  private readonly quorum: number;
  private readonly quorumByScope: ReadonlyMap<string, number>;
  private readonly buckets: number;
  private readonly leaseTtlMs: number;
  private readonly staleAfterMs: number;
  private readonly flushTimeoutMs: number;
  private readonly configTtlMs: number;
  private readonly wallNow: () => number;
  private readonly onError: ((err: unknown) => void) | undefined;
  private readonly scopes = new Map<string, Scope>();
  private readonly byPanel = new Map<SyncedPanel, Scope>();
  private readonly configHandlers = new Map<string, Set<(key: string, value: unknown) => void>>();
  private readonly leaseToken: string;
  private sub: Redis | Cluster | undefined;
  private subscribed: Promise<void> = Promise.resolve();
  private timer: ReturnType<typeof setInterval> | undefined;
  private flushing = false;
  private flushStarted = 0;
  private closed = false;
  private healthy = false;
  private caughtUp = false;
  /** Estimated Redis server time minus local wall time. */
  private offset = 0;
  private readonly onReady = () => {
    void this.catchUp();
  };
  private readonly onClose = () => {
    this.caughtUp = false;
    this.setHealthy(false);
  };
  private readonly inflight = new Set<Promise<unknown>>();
  private readyWaiters: (() => void)[] = [];
  private readonly counters = {
    flushes: 0,
    failedFlushes: 0,
    commands: 0,
    refusedConfigs: 0,
    droppedStale: 0,
    appliedStates: 0,
    refused: { garbage: 0, forged: 0, oversized: 0 } as Record<Refusal, number>,
  };

  constructor(options: RedisSyncOptions) {
    const o = checkKeys('RedisSync options', options, OPTION_NAMES) as unknown as RedisSyncOptions;
    const redis = o.redis;
    if (typeof redis !== 'object' || redis === null || typeof (redis as Redis).defineCommand !== 'function') {
      throw new TypeError(`redis must be an ioredis Redis or Cluster client, got ${show(redis)}`);
    }
    this.redis = redis;
    this.keys = new Keys(checkNamespace(o.namespace));
    this.intervalMs =
      o.syncIntervalMs === undefined ? 200 : checkInteger('syncIntervalMs', o.syncIntervalMs, 10, 60_000);
    this.quorum = o.quorum === undefined ? 2 : checkInteger('quorum', o.quorum, 1, 1000);
    const byScope = o.quorumByScope === undefined ? { instance: 1 } : o.quorumByScope;
    if (typeof byScope !== 'object' || byScope === null || Array.isArray(byScope)) {
      throw new TypeError(`quorumByScope must be an object of scope: quorum, got ${show(byScope)}`);
    }
    this.quorumByScope = new Map(
      Object.entries(byScope).map(([scope, q]) => [scope, checkInteger(`quorumByScope.${scope}`, q, 1, 1000)]),
    );
    this.buckets = o.syncBuckets === undefined ? 10 : checkInteger('syncBuckets', o.syncBuckets, 1, 100);
    this.leaseTtlMs = o.leaseTtlMs === undefined ? 2000 : checkInteger('leaseTtlMs', o.leaseTtlMs, 10, 3_600_000);
    this.staleAfterMs =
      o.staleAfterMs === undefined
        ? Math.max(1000, 3 * this.intervalMs)
        : checkInteger('staleAfterMs', o.staleAfterMs, this.intervalMs, 3_600_000);
    this.flushTimeoutMs =
      o.flushTimeoutMs === undefined
        ? Math.max(1000, 5 * this.intervalMs)
        : checkInteger('flushTimeoutMs', o.flushTimeoutMs, 1, 3_600_000);
    this.configTtlMs =
      o.configTtlMs === undefined ? 7 * 86_400_000 : checkInteger('configTtlMs', o.configTtlMs, 1000, 365 * 86_400_000);
    this.wallNow = o.now === undefined ? Date.now : checkFunction<() => number>('now', o.now);
    this.onError = o.onError === undefined ? undefined : checkFunction<(err: unknown) => void>('onError', o.onError);
    const secret = o.secret;
    if (secret !== undefined && !(typeof secret === 'string' && secret.length > 0) && !Buffer.isBuffer(secret)) {
      throw new TypeError(`secret must be a non-empty string or a Buffer, got ${show(secret)}`);
    }
    this.codec = new MessageCodec(secret === undefined ? undefined : Buffer.from(secret));
    const nodeId = o.nodeId === undefined ? randomBytes(6).toString('hex') : o.nodeId;
    if (typeof nodeId !== 'string' || !/^[A-Za-z0-9._:-]{1,64}$/.test(nodeId)) {
      throw new TypeError(`nodeId must be 1-64 of A-Z a-z 0-9 . _ : -, got ${show(nodeId)}`);
    }
    this.nodeId = nodeId;
    this.leaseToken = `${nodeId}:${randomBytes(8).toString('hex')}`;

    // defineCommand re-sends a script with EVAL when Redis has forgotten it (after a restart).
    redis.defineCommand('cbsFlush', { numberOfKeys: 4, lua: FLUSH });
    redis.defineCommand('cbsPutState', { numberOfKeys: 3, lua: PUT_STATE });
    redis.defineCommand('cbsReleaseLease', { numberOfKeys: 1, lua: RELEASE_LEASE });
    redis.defineCommand('cbsServerTime', { numberOfKeys: 0, lua: SERVER_TIME });
    this.cmd = redis as unknown as SyncCommands;
    redis.on('ready', this.onReady);
    redis.on('close', this.onClose);
    this.subscribe();
    this.timer = setInterval(() => void this.flush().catch((err: unknown) => this.report(err)), this.intervalMs);
    this.timer.unref?.();
    if (redis.status === 'ready') void this.catchUp();
  }

  /** Shares `panel` under `scope` (unique per panel, 1-32 of `A-Z a-z 0-9 _ -`). */
  attach(
    panel: SyncedPanel & {
      attachSync(sync: PanelSync): void;
      options?: { bucketTimeMs: number; bucketNums: number; now: () => number };
    },
    scope: string,
  ): void {
    if (typeof scope !== 'string' || !/^[A-Za-z0-9_-]{1,32}$/.test(scope)) {
      throw new TypeError(`scope must be 1-32 of A-Z a-z 0-9 _ -, got ${show(scope)}`);
    }
    if (this.scopes.has(scope)) throw new Error(`scope ${JSON.stringify(scope)} is already attached to this RedisSync`);
    if (this.closed) throw new Error('this RedisSync is closed');
    const o = panel.options;
    const windowMs = o === undefined ? 10_000 : o.bucketTimeMs * o.bucketNums;
    const s: Scope = {
      name: scope,
      quorum: this.quorumByScope.get(scope) ?? this.quorum,
      panel,
      tracked: new Map(),
      windowMs,
      bucketMs: Math.max(1, Math.floor(windowMs / this.buckets)),
      now: o?.now ?? Date.now,
    };
    this.scopes.set(scope, s);
    this.byPanel.set(panel, s);
    panel.attachSync(this);
    if (this.healthy) void this.catchUp();
  }

  // PanelSync: called by the panels.

  link(panel: SyncedPanel, key: string, breaker: Breaker): FleetLink {
    const scope = this.byPanel.get(panel);
    const link = new FleetLink(key, () => {});
    if (scope === undefined) return link;
    const tr: Tracked = {
      scope,
      key,
      breaker,
      link,
      keys: this.keys.breaker(breakerTag(scope.name, key)),
      own: undefined,
      stateTs: 0,
      leaseHeld: false,
    };
    scope.tracked.set(key, tr);
    link.gate = this.healthy ? 'wait' : 'local';
    link.quorum = scope.quorum;
    return link;
  }

  unlink(panel: SyncedPanel, key: string): void {
    const tr = this.byPanel.get(panel)?.tracked.get(key);
    if (tr === undefined) return;
    tr.scope.tracked.delete(key);
    if (tr.leaseHeld) this.track(this.releaseLease(tr));
  }

  transition(panel: SyncedPanel, key: string, _from: State, to: State, info: TransitionInfo): void {
    const tr = this.byPanel.get(panel)?.tracked.get(key);
    if (tr === undefined || info.cause === 'remote') return;
    if (!info.fleet) {
      if (tr.leaseHeld) this.track(this.releaseLease(tr));
      return;
    }
    if (to === State.Open) {
      this.track(this.putState(tr, 'open', info.coolingMs, info.attempt));
      if (tr.leaseHeld) this.track(this.releaseLease(tr));
    } else if (to === State.Closed) {
      // The fleet's window is deleted with the close (see PUT_STATE); so is this node's record of its share.
      tr.own = undefined;
      this.track(this.putState(tr, 'closed', 0, 0));
      if (tr.leaseHeld) this.track(this.releaseLease(tr));
    }
    this.gate(tr);
  }

  detach(panel: SyncedPanel): void {
    const scope = this.byPanel.get(panel);
    if (scope === undefined) return;
    this.byPanel.delete(panel);
    this.scopes.delete(scope.name);
    for (const tr of scope.tracked.values()) if (tr.leaseHeld) this.track(this.releaseLease(tr));
  }

  // FleetSync: configs.

  async publishConfig(scope: string, key: string, value: unknown): Promise<void> {
    if (typeof scope !== 'string' || scope.length === 0 || typeof key !== 'string') {
      throw new TypeError(`publishConfig needs a scope and a key, got ${show(scope)} and ${show(key)}`);
    }
    const m: ConfigMessage = { v: 1, t: 'config', scope, key, value, ts: this.serverNow(), node: this.nodeId };
    const raw = this.codec.encode(m);
    const field = `${scope}\n${key}`;
    this.counters.commands += 3;
    await this.redis
      .multi()
      .hset(this.keys.config, field, raw)
      .pexpire(this.keys.config, this.configTtlMs)
      .publish(this.keys.channel, raw)
      .exec();
  }

  onConfig(scope: string, handler: (key: string, value: unknown) => void): () => void {
    checkFunction('handler', handler);
    let set = this.configHandlers.get(scope);
    if (set === undefined) {
      set = new Set();
      this.configHandlers.set(scope, set);
    }
    set.add(handler);
    if (this.healthy) void this.readConfigs().catch((err: unknown) => this.report(err));
    return () => {
      this.configHandlers.get(scope)?.delete(handler);
    };
  }

  /** Counters of the sync. */
  stats(): RedisSyncStats {
    let keys = 0;
    let leases = 0;
    for (const s of this.scopes.values()) {
      keys += s.tracked.size;
      for (const tr of s.tracked.values()) if (tr.leaseHeld) leases++;
    }
    const c = this.counters;
    return {
      nodeId: this.nodeId,
      connected: this.healthy,
      flushes: c.flushes,
      failedFlushes: c.failedFlushes,
      commands: c.commands,
      keys,
      leases,
      refused: { ...c.refused },
      refusedConfigs: c.refusedConfigs,
      droppedStale: c.droppedStale,
      appliedStates: c.appliedStates,
    };
  }

  /** Resolves once the sync has reached Redis, subscribed, and caught up with the fleet's states and configs. */
  ready(): Promise<void> {
    if (this.healthy && this.caughtUp) return Promise.resolve();
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  /** Resolves when no write of the sync (state, lease) is still on its way to Redis. */
  async settled(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  /** Sends what is pending now, instead of at the next interval. */
  flushNow(): Promise<void> {
    return this.flush();
  }

  /**
   * Flushes what is pending, releases leases, unsubscribes and stops. The
   * ioredis client passed in stays open. Idempotent.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    try {
      await this.flush();
      await this.settled();
    } catch {
      // Best effort: Redis may be gone.
    }
    this.closed = true;
    this.redis.off('ready', this.onReady);
    this.redis.off('close', this.onClose);
    const releases: Promise<unknown>[] = [];
    for (const s of this.scopes.values()) {
      for (const tr of s.tracked.values()) if (tr.leaseHeld) releases.push(this.releaseLease(tr));
    }
    await Promise.allSettled(releases);
    for (const s of [...this.scopes.values()]) {
      (s.panel as SyncedPanel & { detachSync?: () => void }).detachSync?.();
    }
    const sub = this.sub;
    this.sub = undefined;
    if (sub !== undefined) {
      sub.removeAllListeners('message');
      await sub.quit().catch(() => sub.disconnect());
    }
  }

  private track(p: Promise<unknown>): void {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  // Flushing.

  private async flush(): Promise<void> {
    if (this.closed) return;
    if (this.flushing) {
      if (this.wallNow() - this.flushStarted > this.flushTimeoutMs) this.setHealthy(false);
      return;
    }
    if (this.redis.status !== 'ready') {
      // Never queue commands for a Redis that is not there: counts wait in memory, bounded per key.
      this.setHealthy(false);
      this.dropStale();
      return;
    }
    const batch: { tr: Tracked; d: PendingCounts; mode: number }[] = [];
    for (const scope of this.scopes.values()) {
      const now = scope.now();
      for (const tr of scope.tracked.values()) {
        const link = tr.link;
        const d = link.take();
        if (d.since !== 0 && now - d.since > scope.windowMs) {
          this.counters.droppedStale += d.successes + d.failures + d.timeouts;
          d.successes = d.failures = d.timeouts = d.slowCalls = 0;
        }
        const mode = this.leaseMode(tr, now);
        const pending = d.successes + d.failures + d.timeouts > 0;
        if (!pending && mode === 0 && now - link.lastUsed > scope.windowMs && tr.breaker.state() === State.Closed)
          continue;
        batch.push({ tr, d, mode });
      }
    }
    if (batch.length === 0) return;
    this.flushing = true;
    const sent = this.wallNow();
    this.flushStarted = sent;
    const calls = batch.map(({ tr, d, mode }) => [
      ...tr.keys,
      this.nodeId,
      d.successes,
      d.failures,
      d.timeouts,
      d.slowCalls,
      tr.scope.bucketMs,
      this.buckets,
      mode,
      this.leaseToken,
      this.leaseTtlMs,
    ]);
    let results: unknown[] | undefined;
    try {
      this.counters.commands += calls.length;
      results = await this.send(calls);
    } catch (err) {
      this.report(err);
    } finally {
      this.flushing = false;
    }
    const received = this.wallNow();
    if (results === undefined || received - sent > this.flushTimeoutMs) {
      this.counters.failedFlushes++;
      this.setHealthy(false);
      // Put the counts back: they go out with the next flush (or age out of the window).
      if (results === undefined) for (const { tr, d } of batch) tr.link.restore(d);
      return;
    }
    this.counters.flushes++;
    const wasHealthy = this.healthy;
    this.setHealthy(true);
    for (let i = 0; i < batch.length; i++) {
      const item = batch[i] as (typeof batch)[number];
      const r = results[i];
      if (r instanceof Error || !Array.isArray(r)) {
        this.report(r);
        item.tr.link.restore(item.d);
        continue;
      }
      this.apply(item.tr, item.d, r, sent, received);
    }
    if (!wasHealthy) void this.catchUp();
  }

  private async send(calls: (string | number)[][]): Promise<unknown[]> {
    let replies: Promise<unknown[]>;
    if ((this.redis as Cluster).isCluster) {
      // A Cluster pipeline must stay on one node; concurrent commands are batched per connection anyway.
      replies = Promise.all(calls.map((c) => this.cmd.cbsFlush(...c).catch((e: unknown) => e)));
    } else {
      const p = this.redis.pipeline();
      for (const c of calls) (p as unknown as SyncCommands).cbsFlush(...c);
      replies = p.exec().then((res) => (res ?? []).map(([err, v]) => err ?? v));
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`Redis flush took over ${this.flushTimeoutMs} ms`)),
        this.flushTimeoutMs,
      );
    });
    try {
      return await Promise.race([replies, timeout]);
    } finally {
      clearTimeout(timer);
      // A late reply after a timeout is dropped, not reported as unhandled.
      replies.catch(() => {});
    }
  }

  // The probe lease goes to a node whose fleet-open breaker is about to cool
  // and is being called now; a holder with no calls lets it go, so that a
  // node with traffic can probe.
  private leaseMode(tr: Tracked, now: number): number {
    const b = tr.breaker;
    if (!this.healthy || !b.isFleetScoped()) {
      if (tr.leaseHeld) this.track(this.releaseLease(tr));
      return 0;
    }
    if (b.state() === State.HalfOpen) return tr.leaseHeld ? 2 : 0;
    const coolsAt = b.coolsAt() ?? Number.POSITIVE_INFINITY;
    const called = tr.link.wantsProbe || now - tr.link.lastUsed <= 4 * this.intervalMs;
    if (called && coolsAt - now <= 2 * this.intervalMs) return tr.leaseHeld ? 2 : 1;
    if (tr.leaseHeld) this.track(this.releaseLease(tr));
    return 0;
  }

  private apply(tr: Tracked, d: PendingCounts, r: unknown[], sent: number, received: number): void {
    const [epoch, serverNow, s, f, t, slow, others, lease, stateRaw] = r as FlushResult;
    if (
      ![epoch, serverNow, s, f, t, slow, others].every(int) ||
      ![-1, 0, 1].includes(lease) ||
      typeof stateRaw !== 'string'
    ) {
      this.counters.refused.garbage++;
      return;
    }
    this.offset = serverNow - (sent + received) / 2;
    const own = this.addOwn(tr, epoch, d);
    const now = tr.scope.now();
    tr.link.view = {
      successes: Math.max(0, s - own[0]),
      failures: Math.max(0, f - own[1]),
      timeouts: Math.max(0, t - own[2]),
      slowCalls: Math.max(0, slow - own[3]),
      failingNodes: others,
      expiresAt: now + this.staleAfterMs,
    };
    if (lease === 1) tr.leaseHeld = true;
    else if (lease === 0) tr.leaseHeld = false;
    if (stateRaw !== '') this.receive(stateRaw, tr);
    this.gate(tr);
  }

  /** Adds this flush's counts to the node's own ring; returns its own counts in the window. */
  private addOwn(tr: Tracked, epoch: number, d: PendingCounts): [number, number, number, number] {
    const n = this.buckets;
    let ring = tr.own;
    if (ring === undefined) {
      if (d.successes + d.failures + d.timeouts === 0) return [0, 0, 0, 0];
      ring = new Float64Array(n * 5).fill(-1, 0, n * 5);
      for (let i = 0; i < n; i++) ring.fill(0, i * 5 + 1, i * 5 + 5);
      tr.own = ring;
    }
    const at = (epoch % n) * 5;
    if (ring[at] !== epoch) {
      ring[at] = epoch;
      ring.fill(0, at + 1, at + 5);
    }
    (ring[at + 1] as number) += d.successes;
    (ring[at + 2] as number) += d.failures;
    (ring[at + 3] as number) += d.timeouts;
    (ring[at + 4] as number) += d.slowCalls;
    const out: [number, number, number, number] = [0, 0, 0, 0];
    for (let i = 0; i < n; i++) {
      const e = ring[i * 5] as number;
      if (e > epoch - n && e <= epoch) {
        out[0] += ring[i * 5 + 1] as number;
        out[1] += ring[i * 5 + 2] as number;
        out[2] += ring[i * 5 + 3] as number;
        out[3] += ring[i * 5 + 4] as number;
      }
    }
    return out;
  }

  private gate(tr: Tracked): void {
    tr.link.gate = !this.healthy ? 'local' : tr.leaseHeld ? 'mine' : 'wait';
    if (tr.link.gate === 'mine') tr.link.wantsProbe = false;
  }

  private setHealthy(healthy: boolean): void {
    if (this.healthy === healthy) return;
    this.healthy = healthy;
    for (const s of this.scopes.values()) {
      for (const tr of s.tracked.values()) {
        if (!healthy) tr.leaseHeld = false;
        this.gate(tr);
      }
    }
  }

  private dropStale(): void {
    for (const scope of this.scopes.values()) {
      const now = scope.now();
      for (const tr of scope.tracked.values()) {
        if (tr.link.since !== 0 && now - tr.link.since > scope.windowMs) {
          const d = tr.link.take();
          this.counters.droppedStale += d.successes + d.failures + d.timeouts;
        }
      }
    }
  }

  // States and messages.

  private serverNow(): number {
    return Math.round(this.wallNow() + this.offset);
  }

  private async putState(tr: Tracked, state: 'open' | 'closed', coolingMs: number, attempt: number): Promise<void> {
    if (!this.healthy || this.closed) return;
    const ts = Math.max(this.serverNow(), tr.stateTs + 1);
    tr.stateTs = ts;
    const m: StateMessage = {
      v: 1,
      t: 'state',
      scope: tr.scope.name,
      key: tr.key,
      state,
      ts,
      openedAt: state === 'open' ? ts : 0,
      coolingMs: Math.round(coolingMs),
      attempt,
      node: this.nodeId,
    };
    const raw = this.codec.encode(m);
    const ttl = state === 'open' ? Math.round(coolingMs) + this.leaseTtlMs + tr.scope.windowMs : tr.scope.windowMs;
    const member = `${tr.scope.name}\n${tr.key}`;
    try {
      this.counters.commands += 3;
      await this.cmd.cbsPutState(tr.keys[2], tr.keys[0], tr.keys[1], raw, ts, ttl, this.keys.channel, state);
      if (state === 'open') {
        await this.redis.zadd(this.keys.index, ts + ttl, member);
        await this.redis.pexpire(this.keys.index, 86_400_000);
      } else {
        await this.redis.zrem(this.keys.index, member);
      }
    } catch (err) {
      this.report(err);
    }
  }

  private async releaseLease(tr: Tracked): Promise<void> {
    tr.leaseHeld = false;
    this.gate(tr);
    try {
      this.counters.commands++;
      await this.cmd.cbsReleaseLease(tr.keys[3], this.leaseToken);
    } catch (err) {
      this.report(err);
    }
  }

  private subscribe(): void {
    const sub = (this.redis as Redis).duplicate();
    this.sub = sub;
    sub.on('error', (err: unknown) => this.report(err));
    sub.on('message', (_channel: string, raw: string) => this.receive(raw, undefined));
    this.subscribed = sub.subscribe(this.keys.channel).then(
      () => undefined,
      (err: unknown) => this.report(err),
    );
  }

  /** Handles a state or config message from pub/sub or the store; `known` is the breaker it was read for. */
  private receive(raw: string, known: Tracked | undefined): void {
    const m = this.codec.decode(raw);
    if (typeof m === 'string') {
      this.counters.refused[m]++;
      return;
    }
    if (m.t === 'config') this.applyConfig(m);
    else if (m.node !== this.nodeId) this.applyState(m, known);
  }

  private applyState(m: StateMessage, known: Tracked | undefined): void {
    const scope = this.scopes.get(m.scope);
    if (scope === undefined) return;
    let tr = known ?? scope.tracked.get(m.key);
    if (known !== undefined && known.key !== m.key) {
      this.counters.refused.garbage++;
      return;
    }
    if (tr === undefined) {
      if (m.state !== 'open') return;
      scope.panel.getBreaker(m.key);
      tr = scope.tracked.get(m.key);
      if (tr === undefined) return;
    }
    if (m.ts <= tr.stateTs) return;
    tr.stateTs = m.ts;
    this.counters.appliedStates++;
    if (m.state === 'open') {
      // An open that has already cooled still applies: this node then waits for the fleet's probe.
      const remaining = m.openedAt + m.coolingMs - this.serverNow();
      tr.breaker.applyFleetOpen(Math.min(remaining, m.coolingMs), m.coolingMs, m.attempt);
    } else {
      // The closing node deleted the fleet's window: counts from before the close no longer count.
      tr.own = undefined;
      tr.link.view = undefined;
      tr.breaker.applyFleetClose();
      if (tr.leaseHeld) this.track(this.releaseLease(tr));
    }
    this.gate(tr);
  }

  private applyConfig(m: ConfigMessage): void {
    const handlers = this.configHandlers.get(m.scope);
    if (handlers === undefined) return;
    for (const h of handlers) {
      try {
        h(m.key, m.value);
      } catch (err) {
        this.counters.refusedConfigs++;
        this.report(err);
      }
    }
  }

  /**
   * After (re)connecting: re-assert this node's fleet opens (Redis may have
   * restarted empty), then read the stored states and configs.
   */
  private async catchUp(): Promise<void> {
    if (this.closed || this.redis.status !== 'ready') return;
    try {
      this.counters.commands++;
      const t0 = this.wallNow();
      const serverNow = Number(await this.cmd.cbsServerTime());
      const t1 = this.wallNow();
      if (int(serverNow)) this.offset = serverNow - (t0 + t1) / 2;
      this.setHealthy(true);
      for (const scope of this.scopes.values()) {
        for (const tr of scope.tracked.values()) {
          const b = tr.breaker;
          const coolsAt = b.coolsAt();
          if (b.isFleetScoped() && b.state() === State.Open && coolsAt !== undefined) {
            const remaining = coolsAt - scope.now();
            if (remaining > 0) await this.putState(tr, 'open', remaining, b.attempt());
          }
        }
      }
      await this.readStates();
      await this.readConfigs();
      // Ready means listening too: a state published from now on reaches this node at once.
      await this.subscribed;
      this.caughtUp = true;
      for (const resolve of this.readyWaiters.splice(0)) resolve();
    } catch (err) {
      this.report(err);
    }
  }

  private async readStates(): Promise<void> {
    const now = this.serverNow();
    this.counters.commands += 2;
    await this.redis.zremrangebyscore(this.keys.index, '-inf', now);
    const members = await this.redis.zrangebyscore(this.keys.index, now, '+inf');
    for (const member of members.slice(0, 10_000)) {
      const nl = member.indexOf('\n');
      if (nl < 1) {
        this.counters.refused.garbage++;
        continue;
      }
      const scope = this.scopes.get(member.slice(0, nl));
      if (scope === undefined) continue;
      const key = member.slice(nl + 1);
      const [, , stateKey] = this.keys.breaker(breakerTag(scope.name, key));
      this.counters.commands++;
      const raw = await this.redis.get(stateKey);
      if (raw !== null) this.receive(raw, undefined);
    }
  }

  private async readConfigs(): Promise<void> {
    if (this.configHandlers.size === 0) return;
    this.counters.commands += 2;
    const all = await this.redis.hgetall(this.keys.config);
    await this.redis.pexpire(this.keys.config, this.configTtlMs);
    for (const raw of Object.values(all)) this.receive(raw, undefined);
  }

  private report(err: unknown): void {
    try {
      this.onError?.(err);
    } catch {
      // A failing error handler must not break the sync.
    }
  }
}

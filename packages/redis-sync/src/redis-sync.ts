import { randomBytes } from 'node:crypto';
import {
  type Breaker,
  FleetLink,
  type FleetSync,
  type Mode,
  type PanelSync,
  type Quorum,
  State,
  type SyncedPanel,
  show,
  type TransitionInfo,
} from '@cbsuite/core';
import { FleetConfigs } from './configs.js';
import { Connections } from './connections.js';
import {
  type Counters,
  newCounters,
  type Scope,
  type SyncCommands,
  type SyncContext,
  type Tracked,
} from './context.js';
import { isRedisSyncError, RedisSyncError } from './errors.js';
import { FleetStates } from './fleet-state.js';
import { Flusher } from './flusher.js';
import { Keys } from './keys.js';
import { leaseValue, updateGate } from './lease.js';
import { MessageCodec, type Refusal } from './messages.js';
import { type RedisSyncOptions, type ResolvedSyncOptions, resolveSyncOptions } from './options.js';
import { FLUSH, OPEN_KEYS, PUT_CONFIG, PUT_STATE, READ_CONFIGS, SERVER_TIME } from './scripts.js';

export type { RedisSyncOptions } from './options.js';

/** Counters of a {@link RedisSync}. */
export interface RedisSyncStats {
  readonly nodeId: string;
  /** Whether the last flush reached Redis in time. */
  readonly connected: boolean;
  readonly flushes: number;
  readonly failedFlushes: number;
  /** Flushes whose counts Redis had applied already (sent again after a timeout): not counted twice. */
  readonly duplicates: number;
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
  /** Keys of the wrong type and garbage records found in Redis and repaired (deleted or recounted). */
  readonly repaired: number;
  /** Flushes whose counts were beyond `maxNodeCallsPerSec`, and clamped. */
  readonly clamped: number;
  /** Counts taken and not yet confirmed by Redis, in batches. */
  readonly pendingBatches: number;
  /** Ms since the last flush that reached Redis (Infinity before the first). */
  readonly lagMs: number;
}

/**
 * Shares breakers across a fleet of replicas through Redis, off the call
 * path: each node decides from memory; every `syncIntervalMs` it sends, for
 * the keys with something to say, the counts it recorded (one call per key
 * group) and gets back the fleet's totals, the failing nodes, the stored
 * state and its probe lease. Keys with only successes go every
 * `quietSyncIntervalMs`.
 *
 * - **Fleet window**: a key trips on this node's counts plus the rest of the
 *   fleet's, so a fleet trips after about `minSample` calls in all; never on
 *   the fleet's counts alone while this node's own calls succeed.
 * - **The fleet decides the scope**: whichever window trips first, the open
 *   is the fleet's when the quorum of failing nodes is met, this node's
 *   alone otherwise.
 * - **Shared state**: an open (or close) decided for the fleet is stored
 *   with an expiry and published; the others apply it at once, late joiners
 *   from the store.
 * - **One probe for the fleet**: after cooling, only the holder of the probe
 *   lease goes HALF_OPEN; the others keep rejecting until it shares the result.
 * - **Exactly once**: a flush's counts are applied at most once however
 *   Redis behaves; counts are never sent again once they may have been applied.
 * - **Redis trouble** never delays or fails a call: when Redis is slow or
 *   gone, nodes decide alone, and agree again within a second of its return.
 */
export class RedisSync implements FleetSync, PanelSync {
  readonly nodeId: string;
  private readonly o: ResolvedSyncOptions;
  private readonly ctx: SyncContext;
  private readonly conn: Connections;
  private readonly counters: Counters;
  private readonly scopes = new Map<string, Scope>();
  private readonly byPanel = new Map<SyncedPanel, Scope>();
  private readonly flusher: Flusher;
  private readonly states: FleetStates;
  private readonly configs: FleetConfigs;
  private readonly inflight = new Set<Promise<unknown>>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private healthy = false;
  private caughtUp = false;
  private catchingUp: Promise<void> | undefined;
  private closing = false;
  private soon = false;
  private offset = 0;
  private lastGood = Number.NEGATIVE_INFINITY;
  private lastError: unknown;
  private readyWaiters: { resolve: () => void; reject: (err: unknown) => void }[] = [];

  constructor(options: RedisSyncOptions) {
    const o = resolveSyncOptions(options);
    this.o = o;
    this.nodeId = o.nodeId;
    this.counters = newCounters();
    const keys = new Keys(o.namespace, o.groups);
    const token = `${o.nodeId}:${randomBytes(8).toString('hex')}`;
    this.conn = new Connections(o.redis, `cbsuite:${o.namespace}:${o.nodeId}`, o.reconnectMaxMs, {
      onReady: () => void this.catchUp(),
      onDown: () => {
        this.caughtUp = false;
        this.setHealthy(false);
      },
      onMessage: (channel, raw) => this.receive(channel, raw),
      onError: (err) => this.report(err),
    });
    const cmd = this.conn.cmd;
    // defineCommand sends a script again with EVAL when Redis has forgotten it (after a restart).
    cmd.defineCommand('cbsFlush', { lua: FLUSH });
    cmd.defineCommand('cbsPutState', { lua: PUT_STATE });
    cmd.defineCommand('cbsPutConfig', { lua: PUT_CONFIG });
    cmd.defineCommand('cbsOpenKeys', { lua: OPEN_KEYS });
    cmd.defineCommand('cbsReadConfigs', { lua: READ_CONFIGS });
    cmd.defineCommand('cbsServerTime', { numberOfKeys: 0, lua: SERVER_TIME });
    const self = this;
    this.ctx = {
      o,
      keys,
      codec: new MessageCodec(o.secret, o.namespace),
      conn: this.conn,
      cmd: cmd as unknown as SyncCommands,
      counters: this.counters,
      scopes: this.scopes,
      token,
      get healthy() {
        return self.healthy;
      },
      serverNow: () => Math.round(o.now() + this.offset),
      observeServerTime: (serverNow, sent, received) => {
        this.offset = serverNow - (sent + received) / 2;
      },
      report: (err) => this.report(err),
      track: (p) => this.track(p),
    };
    this.flusher = new Flusher(this.ctx, {
      onState: (raw, tr) => this.receiveState(raw, tr),
      setHealthy: (h) => this.setHealthy(h),
    });
    this.states = new FleetStates(this.ctx);
    this.configs = new FleetConfigs(this.ctx);
    this.conn.listen(keys.configChannel);
    this.timer = setInterval(() => this.tick(), o.syncIntervalMs);
    this.timer.unref?.();
  }

  /** Shares `panel` under `scope` (unique per panel, 1-32 of `A-Z a-z 0-9 _ -`). */
  attach(
    panel: SyncedPanel & {
      attachSync(sync: PanelSync): void;
      setMode?(key: string, mode: Mode): void;
      options?: { bucketTimeMs: number; bucketNums: number; now: () => number };
    },
    scope: string,
  ): void {
    if (typeof scope !== 'string' || !/^[A-Za-z0-9_-]{1,32}$/.test(scope)) {
      throw new TypeError(`scope must be 1-32 of A-Z a-z 0-9 _ -, got ${show(scope)}`);
    }
    if (this.scopes.has(scope)) throw new Error(`scope ${JSON.stringify(scope)} is already attached to this RedisSync`);
    if (this.closing) throw new RedisSyncError('closed', 'this RedisSync is closed');
    const po = panel.options;
    const windowMs = po === undefined ? 10_000 : po.bucketTimeMs * po.bucketNums;
    const bucketMs = Math.max(1, Math.floor(windowMs / this.o.syncBuckets));
    const s: Scope = {
      name: scope,
      quorum: this.o.quorumByScope.get(scope) ?? this.o.quorum,
      panel: panel as Scope['panel'],
      tracked: new Map(),
      retired: new Set(),
      windowMs,
      bucketMs,
      buckets: Math.max(1, Math.round(windowMs / bucketMs)),
      quietMs: Math.min(this.o.quietSyncIntervalMs, Math.max(1, Math.floor(windowMs / 2))),
      now: po?.now ?? Date.now,
      closing: false,
    };
    this.scopes.set(scope, s);
    this.byPanel.set(panel, s);
    panel.attachSync(this);
    this.configs.applyModesTo(s);
    if (this.healthy) void this.catchUp(true);
  }

  // PanelSync: called by the panels.

  link(panel: SyncedPanel, key: string, breaker: Breaker): FleetLink {
    const scope = this.byPanel.get(panel);
    // "Recent" is the last fleet bucket, at least a second (and at most the window).
    const policy = {
      quorum: scope?.quorum ?? (this.o.quorum as Quorum),
      recentMs: scope === undefined ? 1000 : Math.min(scope.windowMs, Math.max(1000, scope.bucketMs)),
    };
    const link = new FleetLink(key, breaker, policy);
    if (scope === undefined || scope.closing) return link;
    const keys = this.ctx.keys.breaker(scope.name, key);
    const tr: Tracked = {
      scope,
      key,
      breaker,
      link,
      keys,
      retired: false,
      own: undefined,
      stateVer: 0,
      storedVer: 0,
      coolingMs: 0,
      leaseValue: leaseValue(this.ctx, scope.name, key),
      leaseHeld: false,
      forgedHolder: '',
      failMember: '',
      failSentAt: 0,
      reportedAt: Number.NEGATIVE_INFINITY,
      flushedAt: 0,
      trustedOthers: 0,
      sampledCount: 0,
      sampledAt: Number.NEGATIVE_INFINITY,
      failingSeen: 0,
    };
    scope.tracked.set(key, tr);
    this.conn.listen(this.ctx.keys.channel(keys.group));
    updateGate(this.ctx, tr);
    // A new key is flushed at once, to learn its stored state.
    if (this.healthy) this.flushSoon();
    return link;
  }

  unlink(panel: SyncedPanel, key: string): void {
    const scope = this.byPanel.get(panel);
    const tr = scope?.tracked.get(key);
    if (scope === undefined || tr === undefined) return;
    scope.tracked.delete(key);
    tr.retired = true;
    if (this.flusher.hasUnsent(tr) || tr.leaseHeld || tr.failMember !== '') {
      scope.retired.add(tr);
      this.flushSoon();
    }
  }

  transition(panel: SyncedPanel, key: string, _from: State, to: State, info: TransitionInfo): void {
    const tr = this.byPanel.get(panel)?.tracked.get(key);
    if (tr === undefined || info.cause === 'remote') return;
    if (info.fleet) {
      if (to === State.Open) this.track(this.states.put(tr, 'open', info.coolingMs, info.attempt));
      else if (to === State.Closed) {
        // The fleet's window is deleted with the close (see PUT_STATE); so is this node's record of its share.
        tr.own = undefined;
        this.track(this.states.put(tr, 'closed', 0, 0));
      }
    }
    updateGate(this.ctx, tr);
    this.flushSoon();
  }

  detach(panel: SyncedPanel): void {
    const scope = this.byPanel.get(panel);
    if (scope === undefined) return;
    this.byPanel.delete(panel);
    scope.closing = true;
    // One last flush sends what the panel's breakers recorded and releases what they held.
    if (!this.closing) this.track(this.flusher.flush(true).finally(() => this.prune()));
  }

  // FleetSync: configs and modes.

  publishConfig(scope: string, key: string, value: unknown): Promise<void> {
    return this.configs.publishConfig(scope, key, value);
  }

  /**
   * Sets `mode` (`forcedOpen`, `disabled`, `metricsOnly`, or `normal` to
   * clear) for `key` of the panel shared under `scope`, here and on every
   * node of the fleet, nodes that join later included. Versioned like configs.
   */
  publishMode(scope: string, key: string, mode: Mode): Promise<void> {
    return this.configs.publishMode(scope, key, mode);
  }

  onConfig(scope: string, handler: (key: string, value: unknown) => void): () => void {
    const off = this.configs.onConfig(scope, handler);
    if (this.healthy) this.track(this.configs.read().catch((err: unknown) => this.report(err)));
    return off;
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
      duplicates: c.duplicates,
      commands: c.commands,
      keys,
      leases,
      refused: { ...c.refused },
      refusedConfigs: c.refusedConfigs,
      droppedStale: c.droppedStale,
      appliedStates: c.appliedStates,
      repaired: c.repaired,
      clamped: c.clamped,
      pendingBatches: this.flusher.pendingBatches,
      lagMs: this.o.now() - this.lastGood,
    };
  }

  /**
   * Resolves once the sync has reached Redis and caught up with the fleet's
   * states and configs. Rejects with a {@link RedisSyncError} after
   * `readyTimeoutMs` (code `notReady`, naming the last error), or at once
   * when Redis refuses what the sync needs (code `redis`, naming the key).
   * The sync keeps trying either way.
   */
  ready(): Promise<void> {
    if (this.closing) return Promise.reject(new RedisSyncError('closed', 'this RedisSync is closed'));
    if (this.caughtUp && this.healthy) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (err: unknown) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      const timer = setTimeout(() => {
        this.readyWaiters = this.readyWaiters.filter((w) => w !== waiter);
        const why = this.lastError === undefined ? 'no answer' : (this.lastError as Error).message;
        reject(
          new RedisSyncError(
            'notReady',
            `RedisSync ${this.o.namespace} not ready after ${this.o.readyTimeoutMs} ms (${why})`,
            undefined,
            this.lastError,
          ),
        );
      }, this.o.readyTimeoutMs);
      // Not unref'd: whoever awaits ready() keeps the process alive until it settles.
      this.readyWaiters.push(waiter);
    });
  }

  /** Resolves when no write of the sync (state, last flush of a panel) is still on its way to Redis. */
  async settled(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  /** Sends what the next interval would send (keys with something to say, and quiet keys when their cadence is due). */
  flushDue(): Promise<void> {
    return this.flusher.flush();
  }

  /** Sends everything pending now, quiet keys included, instead of at their next interval. */
  flushNow(): Promise<void> {
    return this.flusher.flush(true);
  }

  /**
   * Sends every outcome recorded (panels closed before included), clears
   * this node's failing entries, releases its leases, and closes the
   * connections the sync opened. The client passed in stays open.
   * Idempotent; works in any order with closing the suite or panels.
   */
  async close(): Promise<void> {
    if (this.closing) return this.settled();
    this.closing = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    for (const s of this.scopes.values()) s.closing = true;
    const deadline = this.o.now() + 2 * this.o.flushTimeoutMs;
    try {
      await this.settled();
      for (let i = 0; i < 3 && this.conn.ready && this.o.now() < deadline && this.unsent(); i++) {
        await this.flusher.flush(true);
      }
      await this.settled();
    } catch (err) {
      this.report(err);
    }
    for (const s of [...this.scopes.values()]) (s.panel as { detachSync?: () => void }).detachSync?.();
    this.scopes.clear();
    this.byPanel.clear();
    this.flusher.clear();
    for (const w of this.readyWaiters.splice(0)) w.reject(new RedisSyncError('closed', 'this RedisSync is closed'));
    await this.conn.close();
  }

  // The loop.

  private tick(): void {
    if (this.closing) return;
    void this.flusher
      .flush()
      .catch((err: unknown) => this.report(err))
      .finally(() => this.prune());
  }

  private flushSoon(): void {
    if (this.soon || this.closing) return;
    this.soon = true;
    setImmediate(() => {
      this.soon = false;
      this.tick();
    });
  }

  /** Whether anything recorded or held is still to be sent. */
  private unsent(): boolean {
    for (const s of this.scopes.values()) {
      for (const tr of [...s.tracked.values(), ...s.retired]) {
        if (this.flusher.hasUnsent(tr) || tr.leaseHeld || tr.failMember !== '') return true;
      }
    }
    return false;
  }

  /** Forgets scopes whose panel detached, once their last flush is done. */
  private prune(): void {
    for (const [name, s] of this.scopes) {
      if (!s.closing || this.closing) continue;
      const done = [...s.tracked.values(), ...s.retired].every(
        (tr) => !this.flusher.hasUnsent(tr) && !tr.leaseHeld && tr.failMember === '',
      );
      if (done || !this.healthy) this.scopes.delete(name);
    }
  }

  private track(p: Promise<unknown>): void {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p)).catch(() => {});
  }

  private setHealthy(healthy: boolean): void {
    if (this.healthy === healthy) {
      if (healthy) this.lastGood = this.o.now();
      return;
    }
    this.healthy = healthy;
    if (healthy) this.lastGood = this.o.now();
    for (const s of this.scopes.values()) {
      for (const tr of s.tracked.values()) {
        if (!healthy) {
          tr.leaseHeld = false;
          tr.link.setView(undefined);
        }
        updateGate(this.ctx, tr);
      }
    }
    // Back after a slow spell without a reconnection: catch up as after one.
    if (healthy && !this.caughtUp) void this.catchUp();
  }

  /**
   * After (re)connecting: re-asserts this node's fleet opens (Redis may have
   * restarted empty), reads the stored states and configs, then flushes every
   * key in use, so that the fleet agrees again at once.
   */
  private catchUp(again = false): Promise<void> {
    if (this.catchingUp !== undefined && !again) return this.catchingUp;
    const run = async () => {
      if (this.closing || !this.conn.ready) return;
      try {
        const t0 = this.o.now();
        this.counters.commands++;
        const serverNow = Number(await this.ctx.cmd.cbsServerTime());
        const t1 = this.o.now();
        if (Number.isSafeInteger(serverNow) && serverNow > 0) this.ctx.observeServerTime(serverNow, t0, t1);
        this.setHealthy(true);
        await this.states.reassert();
        await this.states.readOpen((raw) => this.receiveState(raw, undefined));
        await this.configs.read();
        // Ready means listening too: a state published from now on reaches this node at once.
        await this.conn.listening();
        this.caughtUp = true;
        for (const w of this.readyWaiters.splice(0)) w.resolve();
        await this.flusher.flush(true);
      } catch (err) {
        this.report(err);
        if (isReplyError(err)) {
          const e = new RedisSyncError(
            'redis',
            `Redis refused what the sync needs: ${(err as Error).message}`,
            undefined,
            err,
          );
          for (const w of this.readyWaiters.splice(0)) w.reject(e);
        }
        // Try again shortly, unless a reconnection will.
        if (this.conn.ready && !this.closing) setTimeout(() => void this.catchUp(), 1000).unref?.();
      }
    };
    const p = run().finally(() => {
      if (this.catchingUp === p) this.catchingUp = undefined;
    });
    this.catchingUp = p;
    return p;
  }

  // Messages.

  private receive(channel: string, raw: string): void {
    const m = this.ctx.codec.decode(raw);
    if (typeof m === 'string') {
      this.counters.refused[m]++;
      return;
    }
    if (m.t === 'state') {
      const group = this.ctx.keys.groupOfChannel(channel);
      if (group === undefined || group !== this.ctx.keys.groupOf(m.scope, m.key)) {
        this.counters.refused.garbage++;
        return;
      }
      this.states.apply(m, undefined);
    } else if (channel === this.ctx.keys.configChannel) this.configs.receive(m, raw);
    else this.counters.refused.garbage++;
  }

  private receiveState(raw: string, tr: Tracked | undefined): void {
    const m = this.ctx.codec.decode(raw);
    if (typeof m === 'string') {
      this.counters.refused[m]++;
      return;
    }
    if (m.t !== 'state') {
      this.counters.refused.garbage++;
      return;
    }
    this.states.apply(m, tr);
  }

  private report(err: unknown): void {
    this.lastError = err;
    try {
      this.o.onError?.(err);
    } catch {
      // A failing error handler must not break the sync.
    }
  }
}

function isReplyError(err: unknown): boolean {
  return (
    !isRedisSyncError(err) &&
    typeof err === 'object' &&
    err !== null &&
    ((err as Error).name === 'ReplyError' || (err as Error).constructor?.name === 'ReplyError')
  );
}

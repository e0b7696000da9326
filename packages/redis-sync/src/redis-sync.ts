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
import { newTracked, type Scope } from './context.js';
import { RedisSyncError } from './errors.js';
import { leaseValue, updateGate } from './lease.js';
import { type RedisSyncOptions, type ResolvedSyncOptions, resolveSyncOptions } from './options.js';
import { type RedisSyncStats, statsOf } from './stats.js';
import { SyncLoop } from './sync-loop.js';

export type { RedisSyncOptions } from './options.js';
export type { RedisSyncStats } from './stats.js';

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
  private readonly scopes = new Map<string, Scope>();
  private readonly byPanel = new Map<SyncedPanel, Scope>();
  private readonly loop: SyncLoop;

  constructor(options: RedisSyncOptions) {
    const o = resolveSyncOptions(options);
    this.o = o;
    this.nodeId = o.nodeId;
    this.loop = new SyncLoop(o, this.scopes);
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
    if (this.loop.closing) throw new RedisSyncError('closed', 'this RedisSync is closed');
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
    this.loop.configs.applyModesTo(s);
    if (this.loop.healthy) void this.loop.catchUp(true);
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
    const tr = newTracked(
      scope,
      key,
      breaker,
      link,
      this.loop.ctx.keys.breaker(scope.name, key),
      leaseValue(this.loop.ctx, scope.name, key),
    );
    scope.tracked.set(key, tr);
    this.loop.conn.listen(this.loop.ctx.keys.channel(tr.keys.group));
    updateGate(this.loop.ctx, tr);
    // A new key is flushed at once, to learn its stored state.
    if (this.loop.healthy) this.loop.flushSoon();
    return link;
  }

  unlink(panel: SyncedPanel, key: string): void {
    const scope = this.byPanel.get(panel);
    const tr = scope?.tracked.get(key);
    if (scope === undefined || tr === undefined) return;
    scope.tracked.delete(key);
    tr.retired = true;
    if (this.loop.flusher.hasUnsent(tr) || tr.leaseHeld || tr.failMember !== '') {
      scope.retired.add(tr);
      this.loop.flushSoon();
    }
  }

  transition(panel: SyncedPanel, key: string, _from: State, to: State, info: TransitionInfo): void {
    const tr = this.byPanel.get(panel)?.tracked.get(key);
    if (tr === undefined || info.cause === 'remote') return;
    if (info.fleet) {
      if (to === State.Open) this.loop.track(this.loop.states.put(tr, 'open', info.coolingMs, info.attempt));
      else if (to === State.Closed) {
        // The fleet's window is deleted with the close (see PUT_STATE); so is this node's record of its share.
        tr.own = undefined;
        this.loop.track(this.loop.states.put(tr, 'closed', 0, 0));
      }
    }
    updateGate(this.loop.ctx, tr);
    this.loop.flushSoon();
  }

  detach(panel: SyncedPanel): void {
    const scope = this.byPanel.get(panel);
    if (scope === undefined) return;
    this.byPanel.delete(panel);
    scope.closing = true;
    // One last flush sends what the panel's breakers recorded and releases what they held.
    if (!this.loop.closing) this.loop.track(this.loop.flusher.flush(true).finally(() => this.loop.prune()));
  }

  // FleetSync: configs and modes.

  publishConfig(scope: string, key: string, value: unknown): Promise<void> {
    return this.loop.configs.publishConfig(scope, key, value);
  }

  /**
   * Sets `mode` (`forcedOpen`, `disabled`, `metricsOnly`, or `normal` to
   * clear) for `key` of the panel shared under `scope`, here and on every
   * node of the fleet, nodes that join later included. Versioned like configs.
   */
  publishMode(scope: string, key: string, mode: Mode): Promise<void> {
    return this.loop.configs.publishMode(scope, key, mode);
  }

  onConfig(scope: string, handler: (key: string, value: unknown) => void): () => void {
    const off = this.loop.configs.onConfig(scope, handler);
    if (this.loop.healthy) this.loop.track(this.loop.configs.read().catch((err: unknown) => this.loop.report(err)));
    return off;
  }

  /** Counters of the sync. */
  stats(): RedisSyncStats {
    return statsOf(
      this.nodeId,
      this.loop.healthy,
      this.loop.counters,
      this.scopes.values(),
      this.loop.flusher.pendingBatches,
      this.o.now() - this.loop.lastGood,
    );
  }

  /**
   * Resolves once the sync has reached Redis and caught up with the fleet's
   * states and configs. Rejects with a {@link RedisSyncError} after
   * `readyTimeoutMs` (code `notReady`, naming the last error), or at once
   * when Redis refuses what the sync needs (code `redis`, naming the key).
   * The sync keeps trying either way.
   */
  ready(): Promise<void> {
    if (this.loop.closing) return Promise.reject(new RedisSyncError('closed', 'this RedisSync is closed'));
    if (this.loop.caughtUp && this.loop.healthy) return Promise.resolve();
    return this.loop.readiness.wait(() => {
      const why = this.loop.lastError === undefined ? 'no answer' : (this.loop.lastError as Error).message;
      return new RedisSyncError(
        'notReady',
        `RedisSync ${this.o.namespace} not ready after ${this.o.readyTimeoutMs} ms (${why})`,
        undefined,
        this.loop.lastError,
      );
    });
  }

  /** Resolves when no write of the sync (state, last flush of a panel) is still on its way to Redis. */
  settled(): Promise<void> {
    return this.loop.settled();
  }

  /** Sends what the next interval would send (keys with something to say, and quiet keys when their cadence is due). */
  flushDue(): Promise<void> {
    return this.loop.flusher.flush();
  }

  /** Sends everything pending now, quiet keys included, instead of at their next interval. */
  flushNow(): Promise<void> {
    return this.loop.flusher.flush(true);
  }

  /**
   * Sends every outcome recorded (panels closed before included), clears
   * this node's failing entries, releases its leases, and closes the
   * connections the sync opened. The client passed in stays open.
   * Idempotent; works in any order with closing the suite or panels.
   */
  async close(): Promise<void> {
    if (this.loop.closing) return this.loop.settled();
    this.loop.stop();
    for (const s of this.scopes.values()) s.closing = true;
    const deadline = this.o.now() + 2 * this.o.flushTimeoutMs;
    try {
      await this.loop.settled();
      for (let i = 0; i < 3 && this.loop.conn.ready && this.o.now() < deadline && this.loop.unsent(); i++) {
        await this.loop.flusher.flush(true);
      }
      await this.loop.settled();
    } catch (err) {
      this.loop.report(err);
    }
    for (const s of [...this.scopes.values()]) (s.panel as { detachSync?: () => void }).detachSync?.();
    this.scopes.clear();
    this.byPanel.clear();
    this.loop.flusher.clear();
    this.loop.readiness.reject(new RedisSyncError('closed', 'this RedisSync is closed'));
    await this.loop.conn.close();
  }
}

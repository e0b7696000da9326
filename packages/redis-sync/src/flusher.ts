import type { PendingCounts } from '@cbsuite/core';
import { isNonNegInt, type Scope, type SyncContext, type Tracked } from './context.js';
import { applyReply, type Entry, planEntry, type Unit } from './flush-entry.js';
import { FLUSH_REPLY_PER_KEY, packOps } from './flush-script.js';
import { addOwn } from './own-counts.js';

/** Most breakers in one call on a single Redis, where several key groups share a call. */
const MAX_KEYS_PER_CALL = 256;
/**
 * Exactly-once units on a single Redis, where one call carries many key
 * groups: each unit in a call costs the script a sequence number to read and
 * write (about 4 µs of Redis CPU), so groups share a few units there. On a
 * Cluster a call covers one group, and the group is the unit. A unit goes
 * whole into one call, so a node with more than about 3 × 256 keys due at once
 * sends calls past MAX_KEYS_PER_CALL, each holding Redis about 15 µs a key.
 */
const SINGLE_REDIS_UNITS = 3;

/** What the flusher tells its owner. */
export interface FlushHooks {
  /** A stored state newer than the one known arrived for `tr`. */
  onState(raw: string, tr: Tracked): void;
  /** `tr`'s own OPEN became the fleet's: the quorum came after its trip. */
  onPromoted(tr: Tracked): void;
  setHealthy(healthy: boolean): void;
}

const ZERO = (generation: number): PendingCounts => ({
  successes: 0,
  failures: 0,
  timeouts: 0,
  slowCalls: 0,
  since: 0,
  generation,
});

/**
 * Sends each node's counts and fleet intents to Redis and turns the replies
 * into the fleet views, leases and states the breakers use. Keys with
 * something to say (errors while this node is failing, a change of its
 * failing status, a lease, a state to learn) go at every tick; errors below
 * the trip every `errorSyncIntervalMs`; keys with only successes every `quietMs`; keys
 * unused for a window and at rest are skipped. Calls carry every due key of
 * a group (of several groups on a single Redis).
 */
export class Flusher {
  private readonly units = new Map<number, Unit>();
  private readonly quietAt = new WeakMap<Scope, number>();
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly ctx: SyncContext,
    private readonly hooks: FlushHooks,
  ) {}

  /** Counts batches taken and not yet confirmed by Redis. */
  get pendingBatches(): number {
    let n = 0;
    for (const u of this.units.values()) if (u.pending !== undefined) n++;
    return n;
  }

  /** Whether `tr` still has counts on their way (taken or not). */
  hasUnsent(tr: Tracked): boolean {
    return tr.link.hasPending() || this.units.get(this.unitOf(tr.keys.group))?.pending?.has(tr) === true;
  }

  /**
   * Sends what is due now; with `all`, every key in use (after reconnecting,
   * and when closing). Flushes run one after the other.
   */
  flush(all = false): Promise<void> {
    const next = this.running.then(() => this.flushOnce(all));
    this.running = next.catch(() => {});
    return next;
  }

  private async flushOnce(all: boolean): Promise<void> {
    const ctx = this.ctx;
    if (!ctx.conn.ready) {
      this.hooks.setHealthy(false);
      this.dropStale();
      return;
    }
    const byUnit = new Map<Unit, Entry[]>();
    for (const scope of ctx.scopes.values()) {
      const now = scope.now();
      const quiet =
        all || scope.closing || now - (this.quietAt.get(scope) ?? Number.NEGATIVE_INFINITY) >= scope.quietMs;
      if (quiet) this.quietAt.set(scope, now);
      for (const tr of scope.tracked.values()) this.consider(tr, now, quiet, byUnit);
      for (const tr of scope.retired) this.consider(tr, now, true, byUnit);
    }
    for (const unit of this.units.values()) {
      if (unit.pending !== undefined && !byUnit.has(unit)) byUnit.set(unit, []);
    }
    const calls: [Unit, Entry[]][][] = [];
    let current: [Unit, Entry[]][] = [];
    let size = 0;
    for (const [unit, entries] of byUnit) {
      this.assignCounts(unit, entries);
      if (entries.length === 0) continue;
      if (ctx.conn.cluster || size + entries.length > MAX_KEYS_PER_CALL) {
        if (current.length > 0) calls.push(current);
        current = [];
        size = 0;
      }
      current.push([unit, entries]);
      size += entries.length;
    }
    if (current.length > 0) calls.push(current);
    await Promise.all(calls.map((c) => this.send(c)));
  }

  /** Drops counts that left the window while Redis was away. */
  dropStale(): void {
    for (const scope of this.ctx.scopes.values()) {
      const now = scope.now();
      for (const tr of scope.tracked.values()) {
        const link = tr.link;
        if (link.since !== 0 && now - link.since > scope.windowMs) {
          const d = link.take();
          this.ctx.counters.droppedStale += d.successes + d.failures + d.timeouts;
        }
      }
    }
    for (const unit of this.units.values()) {
      if (unit.pending === undefined) continue;
      for (const [tr, d] of unit.pending) {
        if (d.since !== 0 && tr.scope.now() - d.since > tr.scope.windowMs) {
          this.ctx.counters.droppedStale += d.successes + d.failures + d.timeouts;
          unit.pending.set(tr, ZERO(d.generation));
        }
      }
    }
  }

  /** Forgets the exactly-once state of every group (after the sync is closed). */
  clear(): void {
    this.units.clear();
  }

  private unitOf(group: number): number {
    return this.ctx.conn.cluster ? group : Math.floor((group * SINGLE_REDIS_UNITS) / this.ctx.o.groups);
  }

  private unit(id: number): Unit {
    let u = this.units.get(id);
    if (u === undefined) {
      u = { id, seq: 0, pending: undefined };
      this.units.set(id, u);
    }
    return u;
  }

  private consider(tr: Tracked, now: number, quiet: boolean, byUnit: Map<Unit, Entry[]>): void {
    const unit = this.unit(this.unitOf(tr.keys.group));
    const e = planEntry(this.ctx, tr, unit, now, quiet);
    if (e === undefined) return;
    const list = byUnit.get(unit);
    if (list === undefined) byUnit.set(unit, [e]);
    else list.push(e);
  }

  // A unit without a batch takes the due keys' counts under its next
  // sequence number; a unit with one sends that batch again, whole (counts of
  // an episode that ended since, or that left the window, are sent as zeros).
  private assignCounts(unit: Unit, entries: Entry[]): void {
    const counters = this.ctx.counters;
    if (unit.pending === undefined) {
      const batch = new Map<Tracked, PendingCounts>();
      for (const e of entries) {
        const { link, scope } = e.tr;
        if (!link.hasPending()) continue;
        const d = link.take();
        if (d.since !== 0 && scope.now() - d.since > scope.windowMs) {
          counters.droppedStale += d.successes + d.failures + d.timeouts;
          continue;
        }
        batch.set(e.tr, d);
      }
      if (batch.size > 0) {
        unit.seq++;
        unit.pending = batch;
      }
    } else {
      let live = false;
      const listed = new Set(entries.map((e) => e.tr));
      for (const [tr, d] of unit.pending) {
        const { scope, link } = tr;
        if (link.generation !== d.generation || (d.since !== 0 && scope.now() - d.since > scope.windowMs)) {
          if (link.generation === d.generation) counters.droppedStale += d.successes + d.failures + d.timeouts;
          unit.pending.set(tr, ZERO(d.generation));
        } else if (d.successes + d.failures + d.timeouts > 0) live = true;
        if (!listed.has(tr)) {
          const e = planEntry(this.ctx, tr, unit, scope.now(), true, true);
          if (e !== undefined) entries.push(e);
        }
      }
      // Nothing left worth protecting: the sequence number is spent either way.
      if (!live) unit.pending = undefined;
    }
    for (const e of entries) e.counts = unit.pending?.get(e.tr);
  }

  private async send(call: [Unit, Entry[]][]): Promise<void> {
    const ctx = this.ctx;
    const o = ctx.o;
    const units = call.map(([u]) => u);
    const entries = call.flatMap(([, es]) => es);
    // The sequence hash lives in the call's slot: its group's on a Cluster (one group a call), group 0's otherwise.
    const keys: string[] = [ctx.keys.seq(ctx.conn.cluster ? (units[0] as Unit).id : 0, ctx.token)];
    const argv: (string | number)[] = [o.nodeId, o.leaseTtlMs, o.maxSkewMs, o.maxNodeCallsPerSec, units.length];
    for (const u of units) argv.push(u.pending === undefined ? 0 : u.seq);
    for (const u of units) argv.push(u.id);
    // The windows of the scopes in this call, once each; breakers name theirs by index.
    const scopes: Scope[] = [];
    for (const e of entries) if (!scopes.includes(e.tr.scope)) scopes.push(e.tr.scope);
    argv.push(scopes.length);
    for (const sc of scopes) argv.push(sc.bucketMs, sc.buckets);
    for (const e of entries) {
      const { tr } = e;
      const c = e.counts;
      keys.push(tr.keys.window, tr.keys.failing, tr.keys.failingAt, tr.keys.reporting);
      const has = c !== undefined && c.successes + c.failures + c.timeouts + c.slowCalls > 0;
      argv.push(
        scopes.indexOf(tr.scope) + 1,
        has ? `${c.successes},${c.failures},${c.timeouts},${c.slowCalls}` : '',
        packOps(e.failOp, e.report, e.lease, e.sample, units.indexOf(e.unit) + 1),
        e.member,
        e.oldMember,
        e.score,
        e.threshold,
        e.sampleFrom,
        tr.leaseValue,
        e.drop,
        tr.storedVer,
      );
    }
    const sent = o.now();
    ctx.counters.commands++;
    let reply: unknown;
    let failure: unknown;
    try {
      reply = await withTimeout(ctx.cmd.cbsFlush(keys.length, ...keys, ...argv), o.flushTimeoutMs);
    } catch (err) {
      failure = err;
    }
    const received = o.now();
    if (failure !== undefined || !Array.isArray(reply)) {
      ctx.counters.failedFlushes++;
      if (failure !== undefined) ctx.report(failure);
      else ctx.counters.refused.garbage++;
      this.hooks.setHealthy(false);
      return;
    }
    const head = 2 + 2 * units.length;
    if (reply.length !== head + FLUSH_REPLY_PER_KEY * entries.length || !isNonNegInt(reply[0])) {
      ctx.counters.refused.garbage++;
      return;
    }
    ctx.counters.flushes++;
    ctx.observeServerTime(reply[0], sent, received);
    if (isNonNegInt(reply[1])) ctx.counters.repaired += reply[1];
    this.hooks.setHealthy(true);
    for (let i = 0; i < units.length; i++) this.ack(units[i] as Unit, reply[2 + 2 * i] === 1, reply[3 + 2 * i]);
    for (let i = 0; i < entries.length; i++) {
      const r = reply.slice(head + i * FLUSH_REPLY_PER_KEY, head + (i + 1) * FLUSH_REPLY_PER_KEY);
      applyReply(this.ctx, entries[i] as Entry, r, this.hooks);
    }
  }

  // The unit's batch reached Redis: now, or in an earlier call whose reply
  // was lost (then `appliedAt` says when). Its counts enter this node's record
  // of its share of the fleet window.
  private ack(unit: Unit, applied: boolean, appliedAt: unknown): void {
    const batch = unit.pending;
    if (batch === undefined) return;
    unit.pending = undefined;
    if (!applied) this.ctx.counters.duplicates++;
    if (!isNonNegInt(appliedAt)) return;
    for (const [tr, d] of batch) {
      if (tr.link.generation !== d.generation) continue;
      addOwn(tr, Math.floor(appliedAt / tr.scope.bucketMs), d);
    }
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Redis flush took over ${ms} ms`)), ms);
  });
  // A late reply after a timeout is dropped, not reported as unhandled.
  p.catch(() => {});
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

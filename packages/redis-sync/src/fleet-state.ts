import { State } from '@cbsuite/core';
import { isNonNegInt, type SyncContext, type Tracked } from './context.js';
import { updateGate } from './lease.js';
import type { StateMessage } from './messages.js';
import { PutReply } from './scripts.js';

/** Most open keys per group a node reads when it (re)connects. */
const MAX_OPEN_KEYS = 10_000;

/**
 * The fleet's shared states: a node writes the opens and closes it decides
 * for the fleet (stored with an expiry, published on the key group's
 * channel), and applies the ones others decide, whether they arrive by
 * pub/sub, in a flush reply or from the store when it (re)connects.
 *
 * A state is a signed message (with a secret) with a version (`ts`, the
 * server's time when written) and a validity (`until`). A node applies only
 * states newer than the one it has, never one past its validity, never one
 * dated beyond the skew bound ahead of the server's clock, and never its own.
 */
export class FleetStates {
  constructor(private readonly ctx: SyncContext) {}

  /** Writes a state this node decided for the fleet. */
  async put(tr: Tracked, state: 'open' | 'closed', coolingMs: number, attempt: number): Promise<void> {
    const ctx = this.ctx;
    if (!ctx.healthy || !ctx.conn.ready) return;
    const { scope } = tr;
    const ts = Math.max(ctx.serverNow(), tr.stateVer + 1);
    tr.stateVer = ts;
    const cooling = Math.round(coolingMs);
    if (state === 'open') tr.coolingMs = cooling;
    // A close stays meaningful as long as the open it ends could have been.
    const until = ts + (state === 'open' ? cooling : tr.coolingMs) + ctx.o.leaseTtlMs + scope.windowMs;
    const m: StateMessage = {
      v: 2,
      t: 'state',
      scope: scope.name,
      key: tr.key,
      state,
      ts,
      until,
      openedAt: state === 'open' ? ts : 0,
      coolingMs: state === 'open' ? cooling : 0,
      attempt,
      node: ctx.o.nodeId,
    };
    const k = tr.keys;
    try {
      ctx.counters.commands++;
      const reply = await ctx.cmd.cbsPutState(
        4,
        k.window,
        k.failing,
        k.failingAt,
        ctx.keys.index(k.group),
        ctx.codec.encode(m),
        ts,
        until,
        ctx.keys.channel(k.group),
        state,
        k.member,
        ctx.o.maxSkewMs,
        scope.windowMs,
        scope.buckets,
        ctx.conn.publishCommand,
      );
      const [code, repairs] = Array.isArray(reply) ? reply : [];
      if (isNonNegInt(repairs)) ctx.counters.repaired += repairs;
      if (code === PutReply.Written) tr.storedVer = ts;
      else if (code === PutReply.NewerStands) this.retryLater(tr, state);
    } catch (err) {
      ctx.report(err);
    }
  }

  // A newer state stands in the store. If it is one this node applied, its
  // own is outdated; if not (one it refused, or one written raw), it can
  // stand at most the skew bound: write this node's state again after that.
  private retryLater(tr: Tracked, state: 'open' | 'closed'): void {
    const timer = setTimeout(() => {
      const b = tr.breaker;
      const still = b.isFleetScoped() ? b.state() === State.Open && state === 'open' : state === 'closed';
      if (tr.retired || tr.scope.closing || !still || tr.storedVer === tr.stateVer) return;
      const coolsAt = b.coolsAt();
      if (state === 'open' && coolsAt !== undefined) {
        const remaining = coolsAt - tr.scope.now();
        if (remaining > 0) this.ctx.track(this.put(tr, 'open', remaining, b.attempt()));
      } else if (state === 'closed') this.ctx.track(this.put(tr, 'closed', 0, 0));
    }, this.ctx.o.maxSkewMs + 50);
    timer.unref?.();
  }

  /**
   * Applies a state another node decided. `known` is the breaker it was read
   * for (a flush reply); without it the state names its breaker, which is
   * made if the state is an open of a scope this node shares.
   */
  apply(m: StateMessage, known: Tracked | undefined): void {
    const ctx = this.ctx;
    if (m.node === ctx.o.nodeId) return;
    const scope = ctx.scopes.get(m.scope);
    if (scope === undefined || scope.closing) return;
    if (known !== undefined && (known.key !== m.key || known.scope !== scope)) {
      ctx.counters.refused.garbage++;
      return;
    }
    const serverNow = ctx.serverNow();
    if (m.ts > serverNow + ctx.o.maxSkewMs) {
      ctx.counters.refused.future++;
      return;
    }
    if (m.until <= serverNow) {
      ctx.counters.refused.expired++;
      return;
    }
    let tr = known ?? scope.tracked.get(m.key);
    if (tr === undefined) {
      if (m.state !== 'open') return;
      scope.panel.getBreaker(m.key);
      tr = scope.tracked.get(m.key);
      if (tr === undefined) return;
    }
    if (m.ts <= tr.stateVer) {
      if (m.ts < tr.stateVer) ctx.counters.refused.stale++;
      return;
    }
    tr.stateVer = m.ts;
    ctx.counters.appliedStates++;
    if (m.state === 'open') {
      tr.coolingMs = m.coolingMs;
      // An open that has already cooled still applies: this node then waits for the fleet's probe.
      const remaining = m.openedAt + m.coolingMs - serverNow;
      tr.breaker.applyFleetOpen(Math.min(remaining, m.coolingMs), m.coolingMs, m.attempt);
    } else {
      // The closing node deleted the fleet's window: counts from before the close no longer count.
      tr.own = undefined;
      tr.link.setView(undefined);
      tr.breaker.applyFleetClose();
    }
    updateGate(ctx, tr);
  }

  /** After (re)connecting: writes again the fleet opens this node decided (Redis may have restarted empty). */
  async reassert(): Promise<void> {
    for (const scope of this.ctx.scopes.values()) {
      for (const tr of scope.tracked.values()) {
        const b = tr.breaker;
        const coolsAt = b.coolsAt();
        if (!b.isFleetScoped() || b.state() !== State.Open || coolsAt === undefined) continue;
        const remaining = coolsAt - scope.now();
        if (remaining > 0) await this.put(tr, 'open', remaining, b.attempt());
      }
    }
  }

  /** After (re)connecting: reads the open keys of every group and hands their stored states to `receive`. */
  async readOpen(receive: (raw: string) => void): Promise<void> {
    const ctx = this.ctx;
    for (let g = 0; g < ctx.o.groups; g++) {
      ctx.counters.commands++;
      const reply = await ctx.cmd.cbsOpenKeys(1, ctx.keys.index(g), MAX_OPEN_KEYS);
      if (!Array.isArray(reply) || reply.length < 2) {
        ctx.counters.refused.garbage++;
        continue;
      }
      if (isNonNegInt(reply[1])) ctx.counters.repaired += reply[1];
      const windows: string[] = [];
      for (const member of reply.slice(2)) {
        const nl = typeof member === 'string' ? member.indexOf('\n') : -1;
        const scope = nl < 1 ? undefined : ctx.scopes.get((member as string).slice(0, nl));
        if (nl < 1) ctx.counters.refused.garbage++;
        if (scope === undefined) continue;
        const keys = ctx.keys.breaker(scope.name, (member as string).slice(nl + 1));
        if (keys.group === g) windows.push(keys.window);
        else ctx.counters.refused.garbage++;
      }
      if (windows.length === 0) continue;
      const pipe = ctx.conn.cmd.pipeline();
      for (const w of windows) pipe.hmget(w, 'st', 'sx');
      ctx.counters.commands += windows.length;
      const rows = (await pipe.exec()) ?? [];
      const serverNow = ctx.serverNow();
      for (const [err, row] of rows) {
        if (err !== null || !Array.isArray(row)) continue;
        const [st, sx] = row as [unknown, unknown];
        if (typeof st === 'string' && Number(sx) > serverNow) receive(st);
      }
    }
  }
}

import { type ProbeGate, State } from '@cbsuite/core';
import type { SyncContext, Tracked } from './context.js';
import { LeaseOp } from './flush-script.js';

// The fleet's probe lease: one node at a time probes a fleet-open key. The
// lease lives in the key's window hash (holder and expiry, server time); a
// holder that is malformed or outlives leaseTtlMs is treated as absent and
// removed by the flush script; with a secret, a holder whose signature fails
// is treated as absent too, and the node decides alone until it is gone.

/** This node's lease value for a key: its token, signed for the key with a secret. */
export function leaseValue(ctx: Pick<SyncContext, 'codec' | 'token'>, scope: string, key: string): string {
  const sig = ctx.codec.sign('lease', scope, key, ctx.token);
  return sig === '' ? ctx.token : `${ctx.token}.${sig}`;
}

/** Whether a holder value read from Redis was written by a node of this fleet. */
export function holderTrusted(ctx: Pick<SyncContext, 'codec'>, tr: Tracked, holder: string): boolean {
  if (!ctx.codec.signs) return true;
  const dot = holder.lastIndexOf('.');
  if (dot < 1) return false;
  return ctx.codec.verify(holder.slice(dot + 1), 'lease', tr.scope.name, tr.key, holder.slice(0, dot));
}

/**
 * What the next flush does with the lease: the lease goes to a node whose
 * fleet-open breaker is about to cool and is being called; a holder with no
 * calls lets it go, so that a node with traffic can probe.
 */
export function leaseOp(ctx: Pick<SyncContext, 'healthy' | 'o'>, tr: Tracked, now: number): LeaseOp {
  const b = tr.breaker;
  const release = tr.leaseHeld ? LeaseOp.Release : LeaseOp.None;
  if (!ctx.healthy || tr.retired || tr.scope.closing || !b.isFleetScoped()) return release;
  if (b.state() === State.HalfOpen) return tr.leaseHeld ? LeaseOp.Renew : LeaseOp.None;
  const interval = ctx.o.syncIntervalMs;
  const coolsAt = b.coolsAt() ?? Number.POSITIVE_INFINITY;
  const called = tr.link.wantsProbe || now - tr.link.lastUsed <= 4 * interval;
  // Asked for a little before cooling ends, so that the holder probes on time; never sooner than a lease lasts.
  const ahead = Math.min(2 * interval, ctx.o.leaseTtlMs);
  if (called && coolsAt - now <= ahead) return tr.leaseHeld ? LeaseOp.Renew : LeaseOp.Acquire;
  return release;
}

/** The probe gate the breaker sees. */
export function gateOf(ctx: Pick<SyncContext, 'healthy'>, tr: Tracked): ProbeGate {
  if (!ctx.healthy || tr.forgedHolder !== '') return 'local';
  return tr.leaseHeld ? 'mine' : 'wait';
}

/** Sets the breaker's gate from what the sync knows. */
export function updateGate(ctx: Pick<SyncContext, 'healthy'>, tr: Tracked): void {
  tr.link.setGate(gateOf(ctx, tr));
}

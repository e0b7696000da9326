import type { SyncContext, Tracked } from './context.js';

// Each node says whether it is failing for a key (FleetLink.isFailing): its
// entry in the key's sorted set of failing nodes. With a secret the entry is
// signed for the key and for the window it was written in, so a writer to
// Redis cannot add failing nodes that count, nor replay old entries for long;
// a node checks the entries it samples and trusts the count in proportion.

/** Failing entries a node samples to check their signatures. */
export const SAMPLE = 16;

/** This node's entry among the failing nodes of `tr` at server time `serverNow`. */
export function failMember(ctx: Pick<SyncContext, 'codec' | 'o'>, tr: Tracked, serverNow: number): string {
  const node = ctx.o.nodeId;
  if (!ctx.codec.signs) return node;
  const epoch = String(Math.floor(serverNow / tr.scope.windowMs));
  return `${node}|${epoch}|${ctx.codec.sign('fail', tr.scope.name, tr.key, node, epoch)}`;
}

/** Whether an entry read from Redis is another node's, signed, and of this window or the one before or after. */
function trusted(ctx: Pick<SyncContext, 'codec' | 'o'>, tr: Tracked, entry: string, serverNow: number): boolean {
  const parts = entry.split('|');
  if (parts.length !== 3) return false;
  const [node, epoch, sig] = parts as [string, string, string];
  if (node === ctx.o.nodeId || !/^\d{1,16}$/.test(epoch)) return false;
  if (Math.abs(Number(epoch) - Math.floor(serverNow / tr.scope.windowMs)) > 1) return false;
  return ctx.codec.verify(sig, 'fail', tr.scope.name, tr.key, node, epoch);
}

/** How many failing entries to sample in this flush (0: none needed). */
export function sampleSize(ctx: Pick<SyncContext, 'codec'>, tr: Tracked, now: number): number {
  if (!ctx.codec.signs) return 0;
  return tr.failingSeen !== tr.sampledCount || now - tr.sampledAt >= 1000 ? SAMPLE : 0;
}

/**
 * Other nodes failing for the key, as far as they can be trusted: without a
 * secret, the count; with one, the entries whose signature holds, counted
 * exactly when all were sampled, else in proportion of the sample.
 */
export function othersFailing(
  ctx: Pick<SyncContext, 'codec' | 'o'>,
  tr: Tracked,
  count: number,
  sampled: string,
  serverNow: number,
  now: number,
): number {
  tr.failingSeen = count;
  const self = tr.failMember === '' ? 0 : 1;
  if (!ctx.codec.signs) return Math.max(0, count - self);
  if (sampled === '') {
    // Not sampled this time: the last judgement holds while the count stands.
    return count === tr.sampledCount ? tr.trustedOthers : Math.min(tr.trustedOthers, Math.max(0, count - self));
  }
  const entries = sampled.split('\n');
  const mine = entries.includes(tr.failMember) ? 1 : 0;
  let good = 0;
  for (const e of entries) if (trusted(ctx, tr, e, serverNow)) good++;
  const others = entries.length - mine;
  const result = count <= SAMPLE ? good : others === 0 ? 0 : Math.floor(((count - self) * good) / others);
  tr.trustedOthers = result;
  tr.sampledCount = count;
  tr.sampledAt = now;
  return result;
}

import type { SyncContext, Tracked } from './context.js';
import { FailOp } from './flush-script.js';

// Each node says how badly its recent calls of a key fare (FleetLink.badness:
// the larger of the error and slow-call rates, in thousandths): its entry in
// the key's sorted set of erring nodes, scored by that badness. A node
// counts the others as failing by its own trip func: the entries at or above
// the badness where that func trips (FleetLink.failingThreshold), one ZCOUNT.
// So a threshold changed at run time applies to every node's report at once,
// and a node's report leads its own window's trip.
//
// A trip func that no badness trips (runs of errors alone) has no threshold:
// nodes then report whether they judge themselves failing, as SELF_JUDGED.
//
// With a secret an entry is signed for the key, the window it was written in
// and its badness, so a writer to Redis cannot add failing nodes that count,
// change a node's badness, or replay old entries for long; a node checks the
// entries it samples and trusts the count in proportion.

/** Entries a node samples to check their signatures. */
export const SAMPLE = 16;
/** The score of a node that judges itself failing by a trip func with no threshold. */
export const SELF_JUDGED = 1001;
/** Below this badness (thousandths) a node keeps no entry: rare errors are not worth a write. */
const MIN_SCORE = 10;
/** A node's entry is written again when its badness moves this much (thousandths). */
const SCORE_STEP = 30;

/** What this node reports for `tr`: its score (thousandths), or undefined for no entry; and the threshold it counts others by. */
export function failingReport(tr: Tracked): { score: number | undefined; threshold: number } {
  const link = tr.link;
  const t = link.failingThreshold();
  if (t === undefined) return { score: link.isFailing() ? SELF_JUDGED : undefined, threshold: SELF_JUDGED };
  const b = link.badness();
  const score = b === undefined ? 0 : Math.round(b * 1000);
  return { score: score >= MIN_SCORE ? score : undefined, threshold: Math.max(1, Math.round(t * 1000)) };
}

/**
 * What this node's entry needs now: written whole ({@link FailOp.Set}) at
 * once when it appears, is signed anew or crosses this node's threshold, and
 * once a third of a window, so that it does not expire; only its score
 * ({@link FailOp.Score}) when it moves a step on the same side of the
 * threshold: at once above it, after `settleMs` below it (the errors' own
 * cadence: a node's badness over a second of calls wobbles by more than a
 * step at every tick, and below its trip it moves no decision soon).
 */
export function failOpFor(
  tr: Tracked,
  score: number | undefined,
  threshold: number,
  member: string,
  now: number,
  settleMs: number,
): FailOp {
  if (score === undefined) return tr.failMember === '' ? FailOp.Keep : FailOp.Clear;
  if (member !== tr.failMember || now - tr.failRefreshedAt >= tr.scope.windowMs / 3) return FailOp.Set;
  if (score >= threshold !== tr.failScore >= threshold) return FailOp.Set;
  const settled = score >= threshold || now - tr.failSentAt >= settleMs;
  return Math.abs(score - tr.failScore) >= SCORE_STEP && settled ? FailOp.Score : FailOp.Keep;
}

/** This node's entry among the erring nodes of `tr`, with `score`, at server time `serverNow`. */
export function failMember(
  ctx: Pick<SyncContext, 'codec' | 'o'>,
  tr: Tracked,
  score: number,
  serverNow: number,
): string {
  const node = ctx.o.nodeId;
  if (!ctx.codec.signs) return node;
  // Quantised, so that the entry (and its write) changes only when the score moves a step.
  const q = String(Math.round(score / SCORE_STEP) * SCORE_STEP);
  const epoch = String(Math.floor(serverNow / tr.scope.windowMs));
  return `${node}|${epoch}|${q}|${ctx.codec.sign('fail', tr.scope.name, tr.key, node, epoch, q)}`;
}

/**
 * Whether an entry read from Redis (with its score) is another node's,
 * signed, of this window or the one before or after, and scored as signed.
 */
function trusted(
  ctx: Pick<SyncContext, 'codec' | 'o'>,
  tr: Tracked,
  entry: string,
  score: number,
  serverNow: number,
): boolean {
  const parts = entry.split('|');
  if (parts.length !== 4) return false;
  const [node, epoch, q, sig] = parts as [string, string, string, string];
  if (node === ctx.o.nodeId || !/^\d{1,16}$/.test(epoch) || !/^\d{1,4}$/.test(q)) return false;
  if (Math.abs(Number(epoch) - Math.floor(serverNow / tr.scope.windowMs)) > 1) return false;
  if (Math.abs(score - Number(q)) > SCORE_STEP) return false;
  return ctx.codec.verify(sig, 'fail', tr.scope.name, tr.key, node, epoch, q);
}

/** How many entries to sample in this flush (0: none needed). */
export function sampleSize(ctx: Pick<SyncContext, 'codec'>, tr: Tracked, now: number): number {
  if (!ctx.codec.signs) return 0;
  return tr.failingSeen !== tr.sampledCount || now - tr.sampledAt >= 1000 ? SAMPLE : 0;
}

/** Where the sample starts among the counted entries: anywhere, so that a writer cannot hide behind the first ones. */
export function sampleOffset(tr: Tracked, sample: number): number {
  return sample > 0 && tr.failingSeen > sample ? Math.floor(Math.random() * (tr.failingSeen - sample + 1)) : 0;
}

/**
 * Other nodes failing for the key, as far as they can be trusted: without a
 * secret, the count; with one, the sampled entries whose signature holds,
 * exactly when all were sampled, else in proportion of the sample. `sampled`
 * is '\n'-joined "entry score" pairs of the counted entries.
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
  const self = tr.failMember !== '' && tr.failScore >= tr.failThreshold ? 1 : 0;
  if (!ctx.codec.signs) return Math.max(0, count - self);
  if (sampled === '') {
    // Not sampled this time: the last judgement holds while the count stands.
    return count === tr.sampledCount ? tr.trustedOthers : Math.min(tr.trustedOthers, Math.max(0, count - self));
  }
  const entries = sampled.split('\n').map((line) => {
    const sp = line.lastIndexOf(' ');
    return [line.slice(0, sp), Number(line.slice(sp + 1))] as const;
  });
  const mine = entries.some(([e]) => e === tr.failMember) ? 1 : 0;
  let good = 0;
  for (const [e, score] of entries) if (trusted(ctx, tr, e, score, serverNow)) good++;
  const others = entries.length - mine;
  const result = count <= SAMPLE ? good : others === 0 ? 0 : Math.floor(((count - self) * good) / others);
  tr.trustedOthers = result;
  tr.sampledCount = count;
  tr.sampledAt = now;
  return result;
}

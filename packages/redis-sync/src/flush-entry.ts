import { Mode, type PendingCounts, State } from '@cbsuite/core';
import { isNonNegInt, type SyncContext, type Tracked } from './context.js';
import { failingReport, failMember, failOpFor, othersFailing, sampleOffset, sampleSize } from './failing-nodes.js';
import { FailOp, LeaseOp, LeaseReply } from './flush-script.js';
import { holderTrusted, leaseOp, updateGate } from './lease.js';
import { ownInWindow } from './own-counts.js';

// What a flush sends for one breaker, and what its reply means.

/**
 * The unit of exactly-once counting: a key group on a Cluster, a third of
 * the groups on a single Redis (flusher.ts). Counts taken for a unit wait,
 * under one sequence number, until a reply says Redis applied them (or had
 * applied them already); until then they are sent again with the same
 * number, and newer counts stay in the links.
 */
export interface Unit {
  readonly id: number;
  seq: number;
  pending: Map<Tracked, PendingCounts> | undefined;
}

/** One breaker in one flush call. */
export interface Entry {
  readonly tr: Tracked;
  readonly unit: Unit;
  counts: PendingCounts | undefined;
  readonly failOp: FailOp;
  readonly member: string;
  readonly oldMember: string;
  /** This node's badness score (thousandths) with `member`, and the threshold it counts others at. */
  readonly score: number;
  readonly threshold: number;
  readonly sampleFrom: number;
  readonly report: 0 | 1;
  readonly lease: LeaseOp;
  readonly drop: string;
  readonly sample: number;
}

/**
 * What a flush sends for `tr` now, or undefined when it has nothing to say
 * (with `quiet`, its quiet cadence is due; with `forced`, it goes anyway:
 * its counts are part of a batch sent again).
 */
export function planEntry(
  ctx: SyncContext,
  tr: Tracked,
  unit: Unit,
  now: number,
  quiet: boolean,
  forced = false,
): Entry | undefined {
  const { link, scope, breaker } = tr;
  const ending = tr.retired || scope.closing;
  const report = ending ? { score: undefined, threshold: tr.failThreshold } : failingReport(tr);
  const score = report.score;
  const failing = score !== undefined && score >= report.threshold;
  const member = score === undefined ? '' : failMember(ctx, tr, score, ctx.serverNow());
  const settleMs = Math.min(scope.quietMs, ctx.o.errorSyncIntervalMs);
  const failOp = failOpFor(tr, score, report.threshold, member, now, settleMs);
  // A new threshold (a config changed) is worth a flush: the count by it is what a trip needs.
  const thresholdMoved = report.threshold !== tr.failThreshold;
  const lease = leaseOp(ctx, tr, now);
  // Errors of a node that is failing go at once: the fleet may be about to
  // trip. Errors below the trip go every few ticks: they move no decision soon.
  const errors = link.failures + link.timeouts > 0;
  const errorsDue = errors && (failing || now - tr.flushedAt >= settleMs);
  const active =
    errorsDue ||
    failOp !== FailOp.Keep ||
    thresholdMoved ||
    lease !== LeaseOp.None ||
    tr.forgedHolder !== '' ||
    tr.flushedAt === 0 ||
    ending ||
    unit.pending?.has(tr) === true;
  const used =
    now - link.lastUsed <= scope.windowMs ||
    link.hasPending() ||
    breaker.state() !== State.Closed ||
    breaker.mode() !== Mode.Normal;
  if (!forced && !active && !(quiet && used)) return undefined;
  const sample = sampleSize(ctx, tr, now);
  return {
    tr,
    unit,
    counts: undefined,
    failOp,
    member,
    oldMember: tr.failMember,
    score: score ?? 0,
    threshold: report.threshold,
    sampleFrom: sampleOffset(tr, sample),
    // Reporting entries last two windows: one refresh a window keeps them.
    report: !ending && used && now - tr.reportedAt >= scope.windowMs ? 1 : 0,
    lease,
    drop: tr.forgedHolder,
    sample,
  };
}

/**
 * Turns one breaker's part of a flush reply into what the breaker uses: the
 * fleet view, the lease and the gate; hands a newer stored state to
 * `onState`, and promotes an open this node decided alone to the fleet's
 * when the quorum is met (`onPromoted`).
 */
export function applyReply(
  ctx: SyncContext,
  e: Entry,
  r: unknown[],
  hooks: { onState(raw: string, tr: Tracked): void; onPromoted(tr: Tracked): void },
): void {
  const { tr } = e;
  const { scope, link } = tr;
  const [epoch, s, f, t, w, failing, reporting, flags, holder, sv, st, sampled] = r as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    unknown,
    number,
    unknown,
    unknown,
  ];
  if (
    ![epoch, s, f, t, w, failing, reporting, flags, sv].every(isNonNegInt) ||
    flags > 7 ||
    typeof holder !== 'string' ||
    typeof st !== 'string' ||
    typeof sampled !== 'string'
  ) {
    ctx.counters.refused.garbage++;
    return;
  }
  const lease = (flags % 4) - 1;
  const now = scope.now();
  tr.flushedAt = now;
  tr.failThreshold = e.threshold;
  if (e.failOp === FailOp.Set || e.failOp === FailOp.Score) {
    tr.failMember = e.member;
    tr.failScore = e.score;
    tr.failSentAt = now;
    if (e.failOp === FailOp.Set) tr.failRefreshedAt = now;
  } else if (e.failOp === FailOp.Clear) {
    tr.failMember = '';
    tr.failScore = 0;
  }
  if (e.report === 1) tr.reportedAt = now;
  if (flags >= 4) ctx.counters.clamped++;
  if (e.lease === LeaseOp.Release) tr.leaseHeld = false;
  if (lease === LeaseReply.Held) {
    tr.leaseHeld = true;
    tr.forgedHolder = '';
  } else if (lease === LeaseReply.NotHeld) {
    tr.leaseHeld = false;
    if (holder !== '' && !holderTrusted(ctx, tr, holder)) {
      if (holder !== tr.forgedHolder) ctx.counters.refused.forged++;
      tr.forgedHolder = holder;
    } else tr.forgedHolder = '';
  } else if (e.drop !== '') tr.forgedHolder = '';
  const own = ownInWindow(tr, epoch);
  const others = {
    successes: Math.max(0, s - own[0]),
    failures: Math.max(0, f - own[1]),
    timeouts: Math.max(0, t - own[2]),
    slowCalls: Math.max(0, w - own[3]),
  };
  const plausible = ctx.o.maxNodeCallsPerSec * (scope.windowMs / 1000) * Math.max(1, reporting);
  const serverNow = ctx.serverNow();
  const othersFailingNow = othersFailing(ctx, tr, failing, sampled, serverNow, now);
  if (!(tr.retired || scope.closing)) {
    if (others.successes + others.failures + others.timeouts > plausible) {
      ctx.counters.refused.implausible++;
      link.setView(undefined);
    } else {
      link.setView({
        ...others,
        failingNodes: othersFailingNow,
        reportingNodes: reporting,
        expiresAt: now + scope.quietMs + ctx.o.staleAfterMs,
      });
    }
  }
  tr.storedVer = sv;
  if (st !== '') hooks.onState(st, tr);
  // An open this node decided alone becomes the fleet's once the quorum is there.
  if (!tr.breaker.isFleetScoped() && link.quorumMet(now) && tr.breaker.promoteToFleet()) hooks.onPromoted(tr);
  updateGate(ctx, tr);
  if (tr.retired && !tr.link.hasPending() && !tr.leaseHeld && tr.failMember === '' && !e.unit.pending?.has(tr)) {
    scope.retired.delete(tr);
  }
}

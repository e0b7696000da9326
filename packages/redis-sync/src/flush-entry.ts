import { Mode, type PendingCounts, State } from '@cbsuite/core';
import { isNonNegInt, type SyncContext, type Tracked } from './context.js';
import { failMember, othersFailing, sampleSize } from './failing-nodes.js';
import { FailOp, LeaseOp, LeaseReply } from './flush-script.js';
import { holderTrusted, leaseOp, updateGate } from './lease.js';
import { ownInWindow } from './own-counts.js';

// What a flush sends for one breaker, and what its reply means.

/**
 * The unit of exactly-once counting: a key group. Counts taken for a group
 * wait, under one sequence number, until a reply says Redis applied them
 * (or had applied them already); until then they are sent again with the
 * same number, and newer counts stay in the links.
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
  const failing = !ending && link.isFailing();
  const member = failing ? failMember(ctx, tr, ctx.serverNow()) : '';
  let failOp: FailOp = FailOp.Keep;
  if (failing) {
    if (member !== tr.failMember || now - tr.failSentAt >= scope.windowMs / 3) failOp = FailOp.Set;
  } else if (tr.failMember !== '') failOp = FailOp.Clear;
  const lease = leaseOp(ctx, tr, now);
  // Errors of a node that is failing go at once: the fleet may be about to
  // trip. Errors below the trip go every few ticks: they move no decision soon.
  const errors = link.failures + link.timeouts > 0;
  const errorsDue = errors && (failing || now - tr.flushedAt >= Math.min(scope.quietMs, ctx.o.errorSyncIntervalMs));
  const active =
    errorsDue ||
    failOp !== FailOp.Keep ||
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
  return {
    tr,
    unit,
    counts: undefined,
    failOp,
    member,
    oldMember: tr.failMember,
    // Reporting entries last two windows: one refresh a window keeps them.
    report: !ending && used && now - tr.reportedAt >= scope.windowMs ? 1 : 0,
    lease,
    drop: tr.forgedHolder,
    sample: sampleSize(ctx, tr, now),
  };
}

/**
 * Turns one breaker's part of a flush reply into what the breaker uses: the
 * fleet view, the lease and the gate; and hands a newer stored state to
 * `onState`.
 */
export function applyReply(
  ctx: SyncContext,
  e: Entry,
  r: unknown[],
  onState: (raw: string, tr: Tracked) => void,
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
  if (e.failOp === FailOp.Set) {
    tr.failMember = e.member;
    tr.failSentAt = now;
  } else if (e.failOp === FailOp.Clear) tr.failMember = '';
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
  if (st !== '') onState(st, tr);
  updateGate(ctx, tr);
  if (tr.retired && !tr.link.hasPending() && !tr.leaseHeld && tr.failMember === '' && !e.unit.pending?.has(tr)) {
    scope.retired.delete(tr);
  }
}

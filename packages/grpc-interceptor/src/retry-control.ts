import { type Breaker, EventEmitter } from '@cbsuite/core';
import type { StatusObject } from '@grpc/grpc-js';
import { inRetriedRequest } from './chain-stop.js';
import type { CBHedgeEvent, CBRetryEvent } from './events.js';
import { pushbackMsOf } from './pushback.js';
import { RetryBudget } from './retry-budget.js';
import type { ResolvedRetryOptions } from './retry-options.js';
import { type AttemptFacts, type CallFacts, callRefusal, type RetryVerdict, suiteVerdict } from './retry-rule.js';
import type { RPCInfo } from './rpc-info.js';

/** Samples a method's service window needs before its error rate can stop retries (Kitex's `cbMinSample`). */
export const RETRY_STOP_MIN_SAMPLES = 10;

/** Target services whose budget and pushback are kept; past it they start over. */
const TARGET_LIMIT = 10_000;

/** Counters of the suite's retries on another instance. */
export interface RetryStats {
  /** Attempts retried on another instance. */
  readonly retries: number;
  /** Retries the budget refused. */
  readonly budgetRefusals: number;
  /** Retries a server's pushback delayed or refused. */
  readonly pushbacks: number;
  /** Retries refused because the method's error rate stops them. */
  readonly methodStops: number;
  /** Retries refused by chain stop. */
  readonly chainStops: number;
  /** Retries refused because their wait would pass the deadline. */
  readonly deadlineStops: number;
  /** Hedges sent (attempts of hedged calls sent because the others had not answered in time). */
  readonly hedges: number;
  /** Hedged calls whose answer came from a hedge. */
  readonly hedgeWins: number;
  /** Hedges not sent: the budget, a pushback, the retry stop or chain stop refused them. */
  readonly hedgeRefusals: number;
}

export type { CallFacts };

/**
 * The suite's retry state around the pure rule (retry-rule.ts): the budget
 * per target service, servers' pushback per target service, the backoff,
 * the retry stop on failing methods, chain stop; its counters and events.
 * Time comes from `now` (the service panel's clock); nothing here runs a timer.
 */
export class RetryControl {
  private readonly budgets = new Map<string, RetryBudget>();
  /** Per target service: no retry before this time (a server's pushback). */
  private readonly heldUntil = new Map<string, number>();
  private readonly emitter = new EventEmitter<[CBRetryEvent]>();
  /** Listens to retries and refused retries. */
  readonly onRetry = this.emitter.event;
  private readonly hedgeEmitter = new EventEmitter<[CBHedgeEvent]>();
  /** Listens to hedges sent, refused, and hedges that won. */
  readonly onHedge = this.hedgeEmitter.event;
  private counts = {
    retries: 0,
    budgetRefusals: 0,
    pushbacks: 0,
    methodStops: 0,
    chainStops: 0,
    deadlineStops: 0,
    hedges: 0,
    hedgeWins: 0,
    hedgeRefusals: 0,
  };

  constructor(
    private readonly o: ResolvedRetryOptions,
    private readonly now: () => number,
  ) {}

  /** Whether calls made now carry the retry header on (chain stop). */
  propagates(): boolean {
    return this.o.chainStop && inRetriedRequest();
  }

  /** A logical call that may be retried starts: it deposits in its target's budget. */
  begin(ri: RPCInfo): void {
    if (this.o.budget !== false) this.budgetOf(ri.to)?.deposit();
  }

  /** Notes a server's pushback on any attempt to `ri.to`: no retry to that service before it. */
  heard(ri: RPCInfo, status: StatusObject): void {
    const ms = pushbackMsOf(status);
    if (ms === undefined || ms <= 0) return;
    if (this.heldUntil.size >= TARGET_LIMIT) this.heldUntil.clear();
    const until = this.now() + ms;
    if (until > (this.heldUntil.get(ri.to) ?? 0)) this.heldUntil.set(ri.to, until);
  }

  /**
   * Whether the attempt is retried: the rule, then the budget (which
   * withdraws). Counts and reports every attempt the rule found safe to retry.
   */
  decide(key: string, ri: RPCInfo, breaker: Breaker, f: CallFacts): RetryVerdict {
    const refusal = callRefusal(f);
    // Not safe to retry, or out of attempts: nothing to report.
    if (refusal !== undefined) return { retry: false, reason: refusal };
    const pushbackMs = this.pushbackMs(ri, f.status);
    const facts: AttemptFacts = {
      ...f,
      inRetriedRequest: this.o.chainStop && inRetriedRequest(),
      methodFailing: this.methodFailing(breaker),
      backoffMs: this.o.backoff === undefined ? 0 : this.o.backoff(f.attempts),
      pushbackMs,
    };
    let v = suiteVerdict(facts);
    if (v.retry && this.o.budget !== false && this.budgetOf(ri.to)?.tryWithdraw() === false) {
      v = { retry: false, reason: 'budget' };
    }
    const pushedBack =
      pushbackMs !== undefined && (!v.retry ? v.reason === 'pushback' || v.reason === 'deadline' : true);
    if (pushedBack) this.counts.pushbacks++;
    const outcome = v.retry ? 'retried' : pushedBack ? 'pushback' : v.reason;
    switch (outcome) {
      case 'retried':
        this.counts.retries++;
        break;
      case 'budget':
        this.counts.budgetRefusals++;
        break;
      case 'methodFailing':
        this.counts.methodStops++;
        break;
      case 'chainStop':
        this.counts.chainStops++;
        break;
      case 'deadline':
        this.counts.deadlineStops++;
        break;
      case 'pushback':
        break;
      default:
        return v; // not safe to retry, or out of attempts: nothing to report
    }
    if (this.emitter.size > 0) {
      const delayMs = v.retry ? v.delayMs : 0;
      this.emitter.emit({
        type: 'retry',
        outcome,
        key,
        rpcInfo: ri,
        attempt: f.attempts,
        status: f.status,
        delayMs,
        time: Date.now(),
      });
    }
    return v;
  }

  /**
   * Whether a hedge of a call that has not answered after its delay is sent:
   * chain stop, the retry stop, a server's pushback for the target service,
   * then the budget (which withdraws). Counts and reports the answer.
   * `attempt` is the number the hedge would have; `sinceMs` the time since
   * the call started.
   */
  hedge(key: string, ri: RPCInfo, breaker: Breaker, attempt: number, sinceMs: number): boolean {
    let outcome: CBHedgeEvent['outcome'] = 'hedged';
    if (this.o.chainStop && inRetriedRequest()) outcome = 'chainStop';
    else if (this.methodFailing(breaker)) outcome = 'methodFailing';
    else if (this.heldMs(ri) !== undefined) outcome = 'pushback';
    else if (this.o.budget !== false && this.budgetOf(ri.to)?.tryWithdraw() === false) outcome = 'budget';
    if (outcome === 'hedged') this.counts.hedges++;
    else this.counts.hedgeRefusals++;
    this.emitHedge(outcome, key, ri, attempt, sinceMs);
    return outcome === 'hedged';
  }

  /** A hedge found no instance to go to: it was never sent, and its withdrawal goes back to the budget. */
  hedgeUnsent(ri: RPCInfo): void {
    if (this.o.budget !== false) this.budgetOf(ri.to)?.refund();
  }

  /** A hedged call's answer came from its attempt number `attempt`, a hedge. */
  hedgeWon(key: string, ri: RPCInfo, attempt: number, sinceMs: number): void {
    this.counts.hedgeWins++;
    this.emitHedge('won', key, ri, attempt, sinceMs);
  }

  private emitHedge(outcome: CBHedgeEvent['outcome'], key: string, ri: RPCInfo, attempt: number, delayMs: number) {
    if (this.hedgeEmitter.size === 0) return;
    this.hedgeEmitter.emit({ type: 'hedge', outcome, key, rpcInfo: ri, attempt, delayMs, time: Date.now() });
  }

  stats(): RetryStats {
    return { ...this.counts };
  }

  /** Drops every listener. */
  clear(): void {
    this.emitter.clear();
    this.hedgeEmitter.clear();
  }

  // The attempt's own pushback, else what is left of its target's.
  private pushbackMs(ri: RPCInfo, status: StatusObject): number | undefined {
    const own = pushbackMsOf(status);
    if (own !== undefined) return own;
    return this.heldMs(ri);
  }

  // What is left of the pushback a server of the target service asked for.
  private heldMs(ri: RPCInfo): number | undefined {
    const until = this.heldUntil.get(ri.to);
    if (until === undefined) return undefined;
    const left = until - this.now();
    if (left > 0) return left;
    this.heldUntil.delete(ri.to);
    return undefined;
  }

  private methodFailing(breaker: Breaker): boolean {
    const rate = this.o.stopErrRate;
    if (rate === false) return false;
    const m = breaker.metricer();
    return m.samples() >= RETRY_STOP_MIN_SAMPLES && m.errorRate() >= rate;
  }

  private budgetOf(to: string): RetryBudget | undefined {
    const o = this.o.budget;
    if (o === false) return undefined;
    let b = this.budgets.get(to);
    if (b === undefined) {
      if (this.budgets.size >= TARGET_LIMIT) this.budgets.clear();
      b = new RetryBudget(o, this.now);
      this.budgets.set(to, b);
    }
    return b;
  }
}

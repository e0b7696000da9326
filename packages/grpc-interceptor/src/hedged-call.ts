import type { Breaker, Permit } from '@cbsuite/core';
import {
  type InterceptingListener,
  type InterceptorOptions,
  Metadata,
  type NextCall,
  status as Status,
  type StatusObject,
} from '@grpc/grpc-js';
import { reachOf } from './attempt-transport.js';
import type { BreakerLevel } from './breaker-level.js';
import type { CallWatch } from './call-observer.js';
import type { CallRegistry, CallState } from './call-registry.js';
import { RETRY_HEADER } from './chain-stop.js';
import { isCircuitBreakError, stripForgedMarkers } from './circuit-break-error.js';
import type { AuthContext, InterceptingCallInterface, MessageContext } from './grpc-types.js';
import type { ResolvedHedging } from './hedging-options.js';
import { stripForgedShedMarker } from './load-shed-error.js';
import type { ShedTicket } from './load-shedder.js';
import type { RetryControl } from './retry-control.js';
import { deadlineMsOf, safeToRepeat } from './retry-rule.js';
import type { RPCInfo } from './rpc-info.js';

/** The status the losers of a hedged call are cancelled with. */
export const HEDGE_LOSER_DETAILS = 'Discarded in favor of another hedged attempt';

/** One attempt of a hedged call, and what it received, held back until its status. */
interface Attempt {
  /** 1 for the first attempt. */
  readonly n: number;
  /** Sent because no attempt had answered in time (a hedge), rather than first or as a retry. */
  readonly hedge: boolean;
  readonly call: InterceptingCallInterface;
  readonly state: CallState;
  headers: Metadata | undefined;
  message: unknown;
  hasMessage: boolean;
  nullMessage: boolean;
  ended: boolean;
}

/**
 * A call to an idempotent unary method with hedging (the `hedging` option;
 * docs/semantics.md, "Hedged requests"). The first attempt goes at once;
 * while no attempt has answered, another goes to an instance the call has
 * not tried every `delayMs`, up to `maxAttempts`, each out of the retry
 * budget. The first attempt to answer (an OK, or any status a server sent)
 * wins: the caller gets its headers, message and status, the others are
 * cancelled. An attempt failing at the transport does not answer: the retry
 * rule may send the next attempt at once, else the others are waited for.
 * One outcome is recorded at the service level, per logical call; the
 * picker records each attempt at the instance level.
 */
export class HedgedCall implements InterceptingCallInterface {
  private readonly attempts: Attempt[] = [];
  private listener: Partial<InterceptingListener> | undefined;
  private metadata: Metadata | undefined;
  private message: unknown;
  private hasMessage = false;
  private halfClosed = false;
  private done = false;
  private startedAt = 0;
  private startedWall = 0;
  private chained = false;
  /** The next hedge, or a retry waiting out its backoff. */
  private timer: ReturnType<typeof setTimeout> | undefined;
  private waiting: ReturnType<typeof setTimeout> | undefined;
  private cancelStatus: StatusObject | undefined;
  /** The last transport failure, the caller's status if no attempt answers. */
  private failure: { a: Attempt; status: StatusObject } | undefined;
  private winner: Attempt | undefined;

  constructor(
    private readonly options: InterceptorOptions,
    private readonly nextCall: NextCall,
    private readonly first: InterceptingCallInterface,
    private readonly level: BreakerLevel,
    private readonly breaker: Breaker,
    private readonly permit: Permit,
    private readonly ri: RPCInfo,
    private readonly registry: CallRegistry,
    private readonly call: CallState,
    private readonly retries: RetryControl,
    private readonly key: string,
    private readonly hedging: ResolvedHedging,
    private readonly ticket: ShedTicket | undefined,
    private readonly watch: CallWatch | undefined,
  ) {}

  start(metadata: Metadata, listener?: Partial<InterceptingListener>): void {
    this.listener = listener;
    this.metadata = metadata;
    const clock = this.level.latencyClock;
    if (clock !== undefined) this.startedAt = clock();
    this.startedWall = Date.now();
    this.chained = this.retries.propagates();
    this.retries.begin(this.ri);
    this.launch(this.first, this.call, false);
  }

  sendMessageWithContext(context: MessageContext, message: unknown): void {
    this.message = message;
    this.hasMessage = true;
    for (const a of this.live()) a.call.sendMessageWithContext(context, message);
  }

  sendMessage(message: unknown): void {
    this.sendMessageWithContext({}, message);
  }

  halfClose(): void {
    this.halfClosed = true;
    for (const a of this.live()) a.call.halfClose();
    // Hedges need the whole request: the delay runs from the half-close (at once for a unary call).
    if (this.timer === undefined && !this.done) this.arm(this.hedging.delayMs);
  }

  startRead(): void {
    for (const a of this.live()) a.call.startRead();
  }

  cancelWithStatus(code: StatusObject['code'], details: string): void {
    if (this.done) return;
    this.cancelStatus = { code, details, metadata: new Metadata() };
    this.clearTimers();
    const live = this.live();
    if (live.length === 0) {
      this.commit(undefined, this.cancelStatus);
      return;
    }
    // The first of them to end gives the caller its status (see onStatus).
    for (const a of live) a.call.cancelWithStatus(code, details);
  }

  getPeer(): string {
    return this.current().call.getPeer();
  }

  getAuthContext(): AuthContext {
    return this.current().call.getAuthContext();
  }

  private current(): { readonly call: InterceptingCallInterface } {
    return this.winner ?? this.live()[0] ?? this.attempts.at(-1) ?? { call: this.first };
  }

  private live(): Attempt[] {
    return this.attempts.filter((a) => !a.ended);
  }

  private launch(call: InterceptingCallInterface, state: CallState, hedge: boolean): void {
    const n = this.attempts.length + 1;
    const a: Attempt = {
      n,
      hedge,
      call,
      state,
      headers: undefined,
      message: undefined,
      hasMessage: false,
      nullMessage: false,
      ended: false,
    };
    this.attempts.push(a);
    const md = this.registry.tag(this.metadata as Metadata, state);
    if (n > 1 || this.chained) md.set(RETRY_HEADER, String(Math.max(1, n - 1)));
    call.start(md, {
      onReceiveMetadata: (m) => {
        if (this.done) return;
        this.registry.heard(state);
        a.headers = m;
      },
      onReceiveMessage: (msg) => {
        if (this.done) return;
        if (msg === null) a.nullMessage = true;
        else {
          a.message = msg;
          a.hasMessage = true;
        }
      },
      onReceiveStatus: (status) => this.onStatus(a, status),
    });
    if (n > 1) {
      if (this.hasMessage) call.sendMessage(this.message);
      if (this.halfClosed) call.halfClose();
    }
  }

  /** Sends attempt number `attempts + 1` to an instance not tried yet; false when it could not be made. */
  private another(hedge: boolean): boolean {
    const state = this.registry.beginHedge(this.call);
    let next: InterceptingCallInterface;
    try {
      next = this.nextCall(this.options);
    } catch {
      this.registry.end(state);
      return false;
    }
    this.launch(next, state, hedge);
    return true;
  }

  private arm(delayMs: number): void {
    if (this.attempts.length >= this.hedging.maxAttempts) return;
    this.timer = setTimeout(() => this.onDelay(), delayMs);
  }

  /** No attempt answered within the delay: a hedge, if the suite allows it; a refused hedge ends hedging. */
  private onDelay(): void {
    this.timer = undefined;
    if (this.done || this.cancelStatus !== undefined || this.attempts.length >= this.hedging.maxAttempts) return;
    const n = this.attempts.length + 1;
    if (!this.retries.hedge(this.key, this.ri, this.breaker, n, Date.now() - this.startedWall)) return;
    if (this.another(true)) this.arm(this.hedging.delayMs);
  }

  private onStatus(a: Attempt, status: StatusObject): void {
    a.ended = true;
    this.registry.end(a.state);
    if (this.done) return;
    stripForgedMarkers(status);
    stripForgedShedMarker(status);
    if (this.fromServer(a, status)) this.retries.heard(this.ri, status);
    const reach = reachOf(a.state.transport);
    // A hedge that found no instance left to go to is as if it had not been sent.
    if (this.cancelStatus === undefined && a.n > 1 && isCircuitBreakError(status)) {
      this.settle(a, status);
      return;
    }
    // An answer (an OK, or any status a server sent), or the caller's cancel: the call ends with it.
    if (this.cancelStatus !== undefined || status.code === Status.OK || !safeToRepeat(reach, status.code, true)) {
      this.commit(a, status);
      return;
    }
    this.failure = { a, status };
    const v = this.retries.decide(this.key, this.ri, this.breaker, {
      status,
      reach,
      attempts: this.attempts.length,
      maxAttempts: this.hedging.maxAttempts,
      idempotent: true,
      responded: false,
      cancelled: false,
      complete: this.hasMessage && this.halfClosed,
      deadlineMs: deadlineMsOf(this.options.deadline),
      nowMs: Date.now(),
    });
    if (v.retry) {
      this.registry.retried();
      if (v.delayMs === 0) {
        if (this.another(false)) return;
      } else {
        this.waiting = setTimeout(() => {
          this.waiting = undefined;
          if (!this.done && !this.another(false)) this.settle(a, status);
        }, v.delayMs);
        return;
      }
    }
    this.settle(a, status);
  }

  /** An attempt ended without answering: the call waits for the others, or ends with the last failure. */
  private settle(a: Attempt, status: StatusObject): void {
    if (this.live().length > 0 || this.waiting !== undefined) return;
    const f = this.failure ?? { a, status };
    this.commit(f.a, f.status);
  }

  /** Ends the call with attempt `a`'s answer: cancels the others, records, gives the caller what `a` received. */
  private commit(a: Attempt | undefined, status: StatusObject): void {
    if (this.done) return;
    this.done = true;
    this.winner = a;
    this.clearTimers();
    for (const o of this.attempts) {
      if (o !== a && !o.ended) o.call.cancelWithStatus(Status.CANCELLED, HEDGE_LOSER_DETAILS);
    }
    this.finish(a, status);
    if (a?.hedge === true && status.code === Status.OK) {
      this.retries.hedgeWon(this.key, this.ri, a.n, Date.now() - this.startedWall);
    }
    const l = this.listener;
    if (a?.headers !== undefined) l?.onReceiveMetadata?.(a.headers);
    if (a?.hasMessage) l?.onReceiveMessage?.(a.message);
    if (a?.nullMessage) l?.onReceiveMessage?.(null);
    l?.onReceiveStatus?.(status);
  }

  private clearTimers(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.waiting !== undefined) clearTimeout(this.waiting);
    this.timer = undefined;
    this.waiting = undefined;
  }

  private fromServer(a: Attempt | undefined, status: StatusObject): boolean {
    const end = a?.state.transport.end;
    if (end !== undefined) return end === 'server';
    return a?.headers !== undefined || status.code === 0 || status.metadata.get('content-type').length > 0;
  }

  private finish(a: Attempt | undefined, status: StatusObject): void {
    for (const o of this.attempts) this.registry.end(o.state);
    this.registry.end(this.call);
    const cancelled = this.cancelStatus !== undefined;
    this.ticket?.end(status, cancelled);
    const clock = this.level.latencyClock;
    const latency = clock === undefined ? undefined : clock() - this.startedAt;
    const facts = { rpcInfo: this.ri, cancelledByCaller: cancelled, fromServer: this.fromServer(a, status) };
    const type = this.level.record(this.breaker, this.permit, status, facts, latency);
    this.watch?.ended(status, type);
  }
}

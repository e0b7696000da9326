import { type InterceptingListener, Metadata, status as Status, type StatusObject } from '@grpc/grpc-js';
import { type CallState, reachOf, sentByServer } from './call-registry.js';
import { isCircuitBreakError, stripForgedMarkers } from './circuit-break-error.js';
import type { AuthContext, InterceptingCallInterface, MessageContext } from './grpc-types.js';
import type { HedgeSetup } from './guarded-call.js';
import type { ResolvedHedging } from './hedging-options.js';
import { stripForgedShedMarker } from './load-shed-error.js';
import { deadlineMsOf, safeToRepeat } from './retry-rule.js';

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
    private readonly s: HedgeSetup,
    private readonly first: InterceptingCallInterface,
    private readonly hedging: ResolvedHedging,
  ) {}

  start(metadata: Metadata, listener?: Partial<InterceptingListener>): void {
    this.listener = listener;
    this.metadata = metadata;
    const clock = this.s.level.latencyClock;
    if (clock !== undefined) this.startedAt = clock();
    this.startedWall = Date.now();
    this.chained = this.s.retries.propagates();
    this.s.retries.begin(this.s.ri);
    this.launch(this.first, this.s.call, false);
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
    const listener: Partial<InterceptingListener> = {
      onReceiveMetadata: (m) => {
        if (this.done) return;
        this.s.registry.heard(state);
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
    };
    this.s.registry.startAttempt(call, this.metadata as Metadata, state, listener, n, this.chained);
    if (n > 1) {
      if (this.hasMessage) call.sendMessage(this.message);
      if (this.halfClosed) call.halfClose();
    }
  }

  /** Sends attempt number `attempts + 1` to an instance not tried yet; false when it could not be made. */
  private another(hedge: boolean): boolean {
    const state = this.s.registry.beginHedge(this.s.call);
    let next: InterceptingCallInterface;
    try {
      next = this.s.nextCall(this.s.options);
    } catch {
      this.s.registry.end(state);
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
    if (!this.s.retries.hedge(this.s.key, this.s.ri, this.s.breaker, n, Date.now() - this.startedWall)) return;
    if (this.another(true)) this.arm(this.hedging.delayMs);
  }

  private onStatus(a: Attempt, status: StatusObject): void {
    a.ended = true;
    this.s.registry.end(a.state);
    if (this.done) {
      // A later attempt the call's end cancelled before it reached an instance was never sent: its withdrawal goes back.
      if (a.n > 1 && !a.state.transport.started) this.s.retries.hedgeUnsent(this.s.ri);
      return;
    }
    stripForgedMarkers(status);
    stripForgedShedMarker(status);
    if (this.fromServer(a, status)) this.s.retries.heard(this.s.ri, status);
    const reach = reachOf(a.state.transport);
    // A hedge that found no instance left to go to is as if it had not been sent.
    if (this.cancelStatus === undefined && a.n > 1 && isCircuitBreakError(status)) {
      this.s.retries.hedgeUnsent(this.s.ri);
      this.settle(a, status);
      return;
    }
    // An answer (an OK, or any status a server sent), or the caller's cancel: the call ends with it.
    if (this.cancelStatus !== undefined || status.code === Status.OK || !safeToRepeat(reach, status.code, true)) {
      this.commit(a, status);
      return;
    }
    this.failure = { a, status };
    const v = this.s.retries.decide(this.s.key, this.s.ri, this.s.breaker, {
      status,
      reach,
      attempts: this.attempts.length,
      maxAttempts: this.hedging.maxAttempts,
      idempotent: true,
      responded: false,
      cancelled: false,
      complete: this.hasMessage && this.halfClosed,
      deadlineMs: deadlineMsOf(this.s.options.deadline),
      nowMs: Date.now(),
    });
    if (v.retry) {
      this.s.registry.retried();
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
      this.s.retries.hedgeWon(this.s.key, this.s.ri, a.n, Date.now() - this.startedWall);
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
    return sentByServer(a?.state.transport.end, a?.headers !== undefined, status);
  }

  private finish(a: Attempt | undefined, status: StatusObject): void {
    for (const o of this.attempts) this.s.registry.end(o.state);
    this.s.registry.end(this.s.call);
    const cancelled = this.cancelStatus !== undefined;
    this.s.ticket?.end(status, cancelled);
    const clock = this.s.level.latencyClock;
    const latency = clock === undefined ? undefined : clock() - this.startedAt;
    const fromServer = this.fromServer(a, status);
    const type = this.s.level.recordCall(
      this.s.breaker,
      this.s.permit,
      status,
      this.s.ri,
      cancelled,
      fromServer,
      latency,
    );
    this.s.watch?.ended(status, type);
  }
}

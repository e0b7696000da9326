import type { Breaker, Permit } from '@cbsuite/core';
import {
  type InterceptingListener,
  type InterceptorOptions,
  Metadata,
  type NextCall,
  status as Status,
  type StatusObject,
} from '@grpc/grpc-js';
import type { BreakerLevel } from './breaker-level.js';
import type { CallWatch } from './call-observer.js';
import { type CallRegistry, type CallState, newAttemptTransport, reachOf, sentByServer } from './call-registry.js';
import { stripForgedMarkers } from './circuit-break-error.js';
import type { AuthContext, InterceptingCallInterface, MessageContext } from './grpc-types.js';
import { stripForgedShedMarker } from './load-shed-error.js';
import type { ShedTicket } from './load-shedder.js';
import type { RetryControl } from './retry-control.js';
import { deadlineMsOf } from './retry-rule.js';
import type { RPCInfo } from './rpc-info.js';

const NO_CONTEXT: MessageContext = Object.freeze({});

/**
 * What the service level hands the call it lets through (a `GuardedCall`, or
 * a `HedgedCall`): the call as grpc-js gave it, what the breaker and the
 * shedder granted, and the suite's parts the call reports to.
 */
export interface CallSetup {
  readonly options: InterceptorOptions;
  readonly nextCall: NextCall;
  readonly level: BreakerLevel;
  readonly key: string;
  readonly ri: RPCInfo;
  /** Undefined when the key's config disables breaking (the call is then only shed, if shedding is on). */
  readonly breaker: Breaker | undefined;
  readonly permit: Permit;
  readonly registry: CallRegistry;
  /** The call at the instance level, while a channel of the suite runs the instance policy. */
  readonly call: CallState | undefined;
  readonly retries: RetryControl;
  readonly ticket: ShedTicket | undefined;
  readonly watch: CallWatch | undefined;
}

/** A call the service level hedges: it has a breaker, and the instance level tracks it. */
export interface HedgeSetup extends CallSetup {
  readonly breaker: Breaker;
  readonly call: CallState;
}

/**
 * The listener of a retry of a {@link GuardedCall} (the call listens to its
 * first attempt itself): one object, where closures would be three more per
 * attempt.
 */
class AttemptListener implements InterceptingListener {
  constructor(
    private readonly call: GuardedCall,
    private readonly attempt: InterceptingCallInterface,
  ) {}

  onReceiveMetadata(md: Metadata): void {
    this.call.heardMetadata(this.attempt, md);
  }

  onReceiveMessage(msg: unknown): void {
    this.call.heardMessage(this.attempt, msg);
  }

  onReceiveStatus(status: StatusObject): void {
    this.call.heardStatus(this.attempt, status);
  }
}

/**
 * One call allowed by the service-level breaker. It forwards to the real
 * call and records one outcome from the final status, after grpc-js's own
 * retries.
 *
 * With the instance level in use it also tags each attempt for the call
 * registry (the picker reads the tag, to skip instances this call already
 * tried), and retries a unary call on another instance as `shouldRetry`
 * (retry-rule.ts) and the suite's {@link RetryControl} say, after the wait
 * they ask for. For idempotent methods the response headers and message of
 * an attempt are held back until its status, so the caller never sees
 * anything of an attempt that was then retried.
 */
export class GuardedCall implements InterceptingCallInterface {
  private attempt: InterceptingCallInterface;
  private listener: Partial<InterceptingListener> | undefined;
  private metadata: Metadata | undefined;
  /** Response headers and message of the current attempt, held back while it may still be retried. */
  private heldHeaders: Metadata | undefined;
  private heldMessage: unknown;
  private hasHeldMessage = false;
  private message: unknown;
  private hasMessage = false;
  private halfClosed = false;
  private responded = false;
  private nullMessage = false;
  private cancelled = false;
  /** Whether the current attempt received response headers. */
  private heard = false;
  private attempts = 1;
  private done = false;
  private startedAt = 0;
  /** Whether the attempts carry the retry header (the call is made while handling a retried request). */
  private chained = false;
  /** The wait before the next attempt, and the status the caller gets if it is cancelled meanwhile. */
  private waiting: ReturnType<typeof setTimeout> | undefined;
  /** The status of the caller's cancel. */
  private cancelStatus: StatusObject | undefined;

  private readonly maxAttempts: number;

  constructor(
    private readonly s: CallSetup,
    private readonly first: InterceptingCallInterface,
  ) {
    this.attempt = first;
    this.maxAttempts = s.call === undefined ? 1 : s.call.maxAttempts;
  }

  start(metadata: Metadata, listener?: Partial<InterceptingListener>): void {
    this.listener = listener;
    this.metadata = metadata;
    const clock = this.s.level.latencyClock;
    if (clock !== undefined) this.startedAt = clock();
    if (this.s.call !== undefined) {
      this.chained = this.s.retries.propagates();
      if (this.maxAttempts > 1) this.s.retries.begin(this.s.ri);
    }
    // Its own listener for the first attempt: most calls make no other.
    const call = this.s.call;
    if (call === undefined) this.attempt.start(metadata, this);
    else this.s.registry.startAttempt(this.attempt, metadata, call, this, 1, this.chained);
  }

  /** @internal The first attempt's response headers. */
  onReceiveMetadata(md: Metadata): void {
    this.heardMetadata(this.first, md);
  }

  /** @internal The first attempt's message. */
  onReceiveMessage(msg: unknown): void {
    this.heardMessage(this.first, msg);
  }

  /** @internal The first attempt's status. */
  onReceiveStatus(status: StatusObject): void {
    this.heardStatus(this.first, status);
  }

  sendMessageWithContext(context: MessageContext, message: unknown): void {
    if (this.maxAttempts > 1) {
      this.message = message;
      this.hasMessage = true;
    }
    this.attempt.sendMessageWithContext(context, message);
  }

  sendMessage(message: unknown): void {
    this.sendMessageWithContext(NO_CONTEXT, message);
  }

  halfClose(): void {
    this.halfClosed = true;
    this.attempt.halfClose();
  }

  startRead(): void {
    this.attempt.startRead();
  }

  cancelWithStatus(code: StatusObject['code'], details: string): void {
    this.cancelled = true;
    this.cancelStatus = { code, details, metadata: new Metadata() };
    if (this.waiting !== undefined) {
      // Between attempts: no call runs, so the call ends here.
      clearTimeout(this.waiting);
      this.waiting = undefined;
      this.end(this.cancelStatus);
      return;
    }
    this.attempt.cancelWithStatus(code, details);
  }

  getPeer(): string {
    return this.attempt.getPeer();
  }

  getAuthContext(): AuthContext {
    return this.attempt.getAuthContext();
  }

  /** @internal An attempt's response headers; ignored unless it is the current attempt. */
  heardMetadata(attempt: InterceptingCallInterface, md: Metadata): void {
    if (attempt !== this.attempt) return;
    this.heard = true;
    if (this.s.call !== undefined) this.s.registry.heard(this.s.call);
    if (this.holding()) {
      this.heldHeaders = md;
      return;
    }
    this.responded = true;
    this.listener?.onReceiveMetadata?.(md);
  }

  /** @internal An attempt's message; ignored unless it is the current attempt. */
  heardMessage(attempt: InterceptingCallInterface, msg: unknown): void {
    if (attempt !== this.attempt) return;
    // A unary call that failed gets a null message before its status: hold
    // it back until we know this attempt is the last one.
    if (msg === null) {
      this.nullMessage = true;
      return;
    }
    if (this.holding()) {
      this.heldMessage = msg;
      this.hasHeldMessage = true;
      return;
    }
    this.responded = true;
    this.listener?.onReceiveMessage?.(msg);
  }

  /** @internal An attempt's status; ignored unless it is the current attempt. Retries it, or ends the call. */
  heardStatus(attempt: InterceptingCallInterface, status: StatusObject): void {
    if (attempt !== this.attempt) return;
    stripForgedMarkers(status);
    stripForgedShedMarker(status);
    const delayMs = this.retryDelay(status);
    // The caller cancelled while the retry was decided (a retry listener may): no attempt follows.
    if (delayMs !== undefined && this.cancelStatus !== undefined) {
      this.end(this.cancelStatus);
      return;
    }
    if (delayMs === 0 && this.tryRetry(attempt)) return;
    if (delayMs !== undefined && delayMs > 0) {
      this.waiting = setTimeout(() => {
        this.waiting = undefined;
        if (!this.tryRetry(attempt)) this.end(status);
      }, delayMs);
      return;
    }
    this.end(status);
  }

  /** Makes the next attempt; false when it could not be made (the caller then gets this attempt's status). */
  private tryRetry(attempt: InterceptingCallInterface): boolean {
    try {
      this.retry();
      return true;
    } catch {
      this.attempt = attempt;
      return false;
    }
  }

  /** Ends the call with `status`: records it, and gives the caller what was held back, then the status. */
  private end(status: StatusObject): void {
    this.finish(status);
    this.release();
    if (this.nullMessage) this.listener?.onReceiveMessage?.(null);
    this.listener?.onReceiveStatus?.(status);
  }

  /** Whether this attempt's response is held back until its status, because a connection failure may still be retried. */
  private holding(): boolean {
    return this.s.call?.idempotent === true && this.attempts < this.maxAttempts;
  }

  private release(): void {
    const md = this.heldHeaders;
    if (md !== undefined) {
      this.heldHeaders = undefined;
      this.listener?.onReceiveMetadata?.(md);
    }
    if (this.hasHeldMessage) {
      const msg = this.heldMessage;
      this.heldMessage = undefined;
      this.hasHeldMessage = false;
      this.listener?.onReceiveMessage?.(msg);
    }
  }

  /** The wait before retrying this attempt, or undefined when it is not retried. */
  private retryDelay(status: StatusObject): number | undefined {
    const call = this.s.call;
    // A call with no breaker (its config disables breaking) is not tracked by the registry: never retried.
    if (call === undefined || this.s.breaker === undefined) return undefined;
    // An OK is never retried, and a pushback counts only on a failed status (gRFC A6).
    if (status.code === Status.OK) return undefined;
    if (this.fromServer(status)) this.s.retries.heard(this.s.ri, status);
    if (this.attempts >= this.maxAttempts) return undefined;
    const v = this.s.retries.decide(this.s.key, this.s.ri, this.s.breaker, {
      status,
      reach: reachOf(call.transport),
      attempts: this.attempts,
      maxAttempts: this.maxAttempts,
      idempotent: call.idempotent,
      responded: this.responded,
      cancelled: this.cancelled,
      complete: this.hasMessage && this.halfClosed,
      deadlineMs: deadlineMsOf(this.s.options.deadline),
      nowMs: Date.now(),
    });
    return v.retry ? v.delayMs : undefined;
  }

  /**
   * Whether a server sent `status`: what the transport saw when the picker
   * observed the attempt; otherwise an OK, a status after response headers,
   * or a trailers-only response (it carries a content-type).
   */
  private fromServer(status: StatusObject): boolean {
    return sentByServer(this.s.call?.transport.end, this.heard, status);
  }

  private retry(): void {
    this.attempts++;
    this.heard = false;
    this.nullMessage = false;
    this.heldHeaders = undefined;
    this.heldMessage = undefined;
    this.hasHeldMessage = false;
    this.s.registry.retried();
    if (this.s.call !== undefined) this.s.call.transport = newAttemptTransport();
    const next = this.s.nextCall(this.s.options);
    this.attempt = next;
    const listener = new AttemptListener(this, next);
    const call = this.s.call;
    if (call === undefined) next.start(this.metadata as Metadata, listener);
    else this.s.registry.startAttempt(next, this.metadata as Metadata, call, listener, this.attempts, this.chained);
    if (this.hasMessage) next.sendMessage(this.message);
    if (this.halfClosed) next.halfClose();
  }

  private finish(status: StatusObject): void {
    if (this.done) return;
    this.done = true;
    if (this.s.call !== undefined) this.s.registry.end(this.s.call);
    this.s.ticket?.end(status, this.cancelled);
    const clock = this.s.level.latencyClock;
    const latency = clock === undefined ? undefined : clock() - this.startedAt;
    const breaker = this.s.breaker;
    const type =
      breaker &&
      this.s.level.recordCall(
        breaker,
        this.s.permit,
        status,
        this.s.ri,
        this.cancelled,
        this.fromServer(status),
        latency,
      );
    this.s.watch?.ended(status, type);
  }
}

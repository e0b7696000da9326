import type { Breaker, Permit } from '@cbsuite/core';
import {
  type InterceptingListener,
  type InterceptorOptions,
  Metadata,
  type NextCall,
  status as Status,
  type StatusObject,
} from '@grpc/grpc-js';
import { newAttemptTransport, reachOf } from './attempt-transport.js';
import type { BreakerLevel } from './breaker-level.js';
import type { CallWatch } from './call-observer.js';
import type { CallRegistry, CallState } from './call-registry.js';
import { RETRY_HEADER } from './chain-stop.js';
import { stripForgedMarkers } from './circuit-break-error.js';
import type { AuthContext, InterceptingCallInterface, MessageContext } from './grpc-types.js';
import { stripForgedShedMarker } from './load-shed-error.js';
import type { ShedTicket } from './load-shedder.js';
import type { RetryControl } from './retry-control.js';
import { deadlineMsOf } from './retry-rule.js';
import type { RPCInfo } from './rpc-info.js';

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
    private readonly options: InterceptorOptions,
    private readonly nextCall: NextCall,
    first: InterceptingCallInterface,
    private readonly level: BreakerLevel,
    private readonly breaker: Breaker | undefined,
    private readonly permit: Permit,
    private readonly ri: RPCInfo,
    private readonly registry: CallRegistry,
    private readonly call: CallState | undefined,
    private readonly retries: RetryControl,
    private readonly key: string,
    private readonly ticket: ShedTicket | undefined,
    private readonly watch: CallWatch | undefined,
  ) {
    this.attempt = first;
    this.maxAttempts = call === undefined ? 1 : call.maxAttempts;
  }

  start(metadata: Metadata, listener?: Partial<InterceptingListener>): void {
    this.listener = listener;
    this.metadata = metadata;
    const clock = this.level.latencyClock;
    if (clock !== undefined) this.startedAt = clock();
    if (this.call !== undefined) {
      this.chained = this.retries.propagates();
      if (this.maxAttempts > 1) this.retries.begin(this.ri);
    }
    this.attempt.start(this.tag(metadata), this.attemptListener(this.attempt));
  }

  sendMessageWithContext(context: MessageContext, message: unknown): void {
    if (this.maxAttempts > 1) {
      this.message = message;
      this.hasMessage = true;
    }
    this.attempt.sendMessageWithContext(context, message);
  }

  sendMessage(message: unknown): void {
    this.sendMessageWithContext({}, message);
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

  private tag(metadata: Metadata): Metadata {
    if (this.call === undefined) return metadata;
    const md = this.registry.tag(metadata, this.call);
    // Retries say so (Kitex's RetryReq), and so do calls made while handling a retried request.
    if (this.attempts > 1 || this.chained) md.set(RETRY_HEADER, String(Math.max(1, this.attempts - 1)));
    return md;
  }

  private attemptListener(attempt: InterceptingCallInterface): InterceptingListener {
    return {
      onReceiveMetadata: (md) => {
        if (attempt !== this.attempt) return;
        this.heard = true;
        if (this.call !== undefined) this.registry.heard(this.call);
        if (this.holding()) {
          this.heldHeaders = md;
          return;
        }
        this.responded = true;
        this.listener?.onReceiveMetadata?.(md);
      },
      onReceiveMessage: (msg) => {
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
      },
      onReceiveStatus: (status) => {
        if (attempt !== this.attempt) return;
        stripForgedMarkers(status);
        stripForgedShedMarker(status);
        const delayMs = this.retryDelay(status);
        // The caller cancelled while the retry was decided (a retry listener may): no attempt follows.
        if (delayMs !== undefined && this.cancelStatus !== undefined) return this.end(this.cancelStatus);
        if (delayMs === 0 && this.tryRetry(attempt)) return;
        if (delayMs !== undefined && delayMs > 0) {
          this.waiting = setTimeout(() => {
            this.waiting = undefined;
            if (!this.tryRetry(attempt)) this.end(status);
          }, delayMs);
          return;
        }
        this.end(status);
      },
    };
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
    return this.call?.idempotent === true && this.attempts < this.maxAttempts;
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
    const call = this.call;
    // A call with no breaker (its config disables breaking) is not tracked by the registry: never retried.
    if (call === undefined || this.breaker === undefined) return undefined;
    // An OK is never retried, and a pushback counts only on a failed status (gRFC A6).
    if (status.code === Status.OK) return undefined;
    if (this.fromServer(status)) this.retries.heard(this.ri, status);
    if (this.attempts >= this.maxAttempts) return undefined;
    const v = this.retries.decide(this.key, this.ri, this.breaker, {
      status,
      reach: reachOf(call.transport),
      attempts: this.attempts,
      maxAttempts: this.maxAttempts,
      idempotent: call.idempotent,
      responded: this.responded,
      cancelled: this.cancelled,
      complete: this.hasMessage && this.halfClosed,
      deadlineMs: deadlineMsOf(this.options.deadline),
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
    const end = this.call?.transport.end;
    if (end !== undefined) return end === 'server';
    return this.heard || status.code === 0 || status.metadata.get('content-type').length > 0;
  }

  private retry(): void {
    this.attempts++;
    this.heard = false;
    this.nullMessage = false;
    this.heldHeaders = undefined;
    this.heldMessage = undefined;
    this.hasHeldMessage = false;
    this.registry.retried();
    if (this.call !== undefined) this.call.transport = newAttemptTransport();
    const next = this.nextCall(this.options);
    this.attempt = next;
    next.start(this.tag(this.metadata as Metadata), this.attemptListener(next));
    if (this.hasMessage) next.sendMessage(this.message);
    if (this.halfClosed) next.halfClose();
  }

  private finish(status: StatusObject): void {
    if (this.done) return;
    this.done = true;
    if (this.call !== undefined) this.registry.end(this.call);
    this.ticket?.end(status, this.cancelled);
    const clock = this.level.latencyClock;
    const latency = clock === undefined ? undefined : clock() - this.startedAt;
    const facts = { rpcInfo: this.ri, cancelledByCaller: this.cancelled, fromServer: this.fromServer(status) };
    const type = this.breaker && this.level.record(this.breaker, this.permit, status, facts, latency);
    this.watch?.ended(status, type);
  }
}

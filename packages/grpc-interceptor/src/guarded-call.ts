import type { Breaker, Permit } from '@cbsuite/core';
import type { InterceptingListener, InterceptorOptions, Metadata, NextCall, StatusObject } from '@grpc/grpc-js';
import type { BreakerLevel } from './breaker-level.js';
import type { CallRegistry, CallState } from './call-registry.js';
import { stripForgedMarkers } from './circuit-break-error.js';
import type { AuthContext, InterceptingCallInterface, MessageContext } from './grpc-types.js';
import { stripForgedShedMarker } from './load-shed-error.js';
import type { ShedTicket } from './load-shedder.js';
import { deadlineMsOf, shouldRetry } from './retry-rule.js';
import type { RPCInfo } from './rpc-info.js';

/**
 * One call allowed by the service-level breaker. It forwards to the real
 * call and records one outcome from the final status, after grpc-js's own
 * retries.
 *
 * With the instance level in use it also tags each attempt for the call
 * registry (the picker reads the tag, to skip instances this call already
 * tried), and retries a unary call on another instance as `shouldRetry`
 * (retry-rule.ts) says. For idempotent methods the response headers and
 * message of an attempt are held back until its status, so the caller never
 * sees anything of an attempt that was then retried.
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
    private readonly ticket: ShedTicket | undefined,
  ) {
    this.attempt = first;
    this.maxAttempts = call === undefined ? 1 : call.maxAttempts;
  }

  start(metadata: Metadata, listener?: Partial<InterceptingListener>): void {
    this.listener = listener;
    this.metadata = metadata;
    const clock = this.level.latencyClock;
    if (clock !== undefined) this.startedAt = clock();
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
    this.attempt.cancelWithStatus(code, details);
  }

  getPeer(): string {
    return this.attempt.getPeer();
  }

  getAuthContext(): AuthContext {
    return this.attempt.getAuthContext();
  }

  private tag(metadata: Metadata): Metadata {
    return this.call === undefined ? metadata : this.registry.tag(metadata, this.call);
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
        if (this.retryable(status)) {
          try {
            this.retry();
            return;
          } catch {
            // The next attempt could not be made: the caller gets this attempt's status.
            this.attempt = attempt;
          }
        }
        this.finish(status);
        this.release();
        if (this.nullMessage) this.listener?.onReceiveMessage?.(null);
        this.listener?.onReceiveStatus?.(status);
      },
    };
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

  private retryable(status: StatusObject): boolean {
    if (this.call === undefined || this.attempts >= this.maxAttempts) return false;
    return shouldRetry({
      status,
      attempts: this.attempts,
      maxAttempts: this.maxAttempts,
      idempotent: this.call.idempotent,
      responded: this.responded,
      cancelled: this.cancelled,
      complete: this.hasMessage && this.halfClosed,
      deadlineMs: deadlineMsOf(this.options.deadline),
      nowMs: Date.now(),
    });
  }

  private retry(): void {
    this.attempts++;
    this.heard = false;
    this.nullMessage = false;
    this.heldHeaders = undefined;
    this.heldMessage = undefined;
    this.hasHeldMessage = false;
    this.registry.retried();
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
    // An OK came from a server; an error did when headers arrived, or as a trailers-only response (with a content-type).
    const fromServer = this.heard || status.code === 0 || status.metadata.get('content-type').length > 0;
    const facts = { rpcInfo: this.ri, cancelledByCaller: this.cancelled, fromServer };
    if (this.breaker !== undefined) this.level.record(this.breaker, this.permit, status, facts, latency);
  }
}

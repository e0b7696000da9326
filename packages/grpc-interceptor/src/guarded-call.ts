import type { Breaker, Permit } from '@cbsuite/core';
import type { InterceptingListener, InterceptorOptions, Metadata, NextCall, StatusObject } from '@grpc/grpc-js';
import { isCircuitBreakError, stripForgedMarkers } from './circuit-break-error.js';
import { isConnectionLevelStatus, isRefusedStatus } from './classify.js';
import type { AuthContext, InterceptingCallInterface, MessageContext } from './grpc-types.js';
import { CALL_ID_HEADER } from './instance-policy.js';
import type { RPCInfo } from './rpc-info.js';

/** What a guarded call needs from its suite. */
export interface CallHost {
  /** Records the logical call's outcome at the service level. */
  recordService(
    breaker: Breaker,
    permit: Permit,
    ri: RPCInfo,
    status: StatusObject,
    cancelled: boolean,
    latencyMs: number | undefined,
    fromServer: boolean,
  ): void;
  /** The clock of the service-level breakers, when they track latency. */
  readonly latencyClock: (() => number) | undefined;
  /** Ends the instance-level tracking of call `id`; reports whether a picker of the suite ever saw it. */
  endCall(id: number): { picked: boolean } | undefined;
  /** Whether a picker of the suite has seen call `id` (so far). */
  wasPicked(id: number): boolean;
  /** Counts a retry on another instance. */
  retried(): void;
  /** The first response of a call no picker of the suite saw: the channel does not run the policy. */
  missingPolicy(ri: RPCInfo): void;
}

/** How attempts of one call are made. */
export interface AttemptPlan {
  /** Instance-level call id to put on each attempt, or undefined when the instance level is not in use. */
  readonly callId: number | undefined;
  /** Most attempts of a unary call (1: no retry on another instance). */
  readonly maxAttempts: number;
  /** Retry attempts that ended with a connection-level error too (the method is idempotent). */
  readonly idempotent: boolean;
}

/**
 * One call allowed by the service-level breaker. It forwards to the real
 * call and records one outcome from the final status, after grpc-js's own
 * retries.
 *
 * With the instance level in use it also tags each attempt with the call id
 * (the picker reads it, to skip instances this call already tried), and it
 * retries a unary call on another instance when an attempt provably never
 * reached the server application:
 *
 * - the server's HTTP/2 layer refused the stream (REFUSED_STREAM, which is
 *   what streams cut by a GOAWAY get; grpc-js retries one transparently), or
 * - for idempotent methods only, the connection failed (dropped, reset, a
 *   failed write) before the call's status arrived: the server may have run
 *   the request, or even sent its whole reply before the connection died
 *   under the trailers, which is safe to repeat only for idempotent methods.
 *   The response headers and message of such an attempt are held back until
 *   its status, so the caller never sees anything of an attempt that was
 *   then retried; a unary caller gets nothing before the status anyway.
 *
 * For other methods, never after response headers. Never after the caller
 * cancelled, never past the deadline or `maxAttempts`, and never for a call
 * an instance-level breaker dropped (every instance was tripped).
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

  constructor(
    private readonly host: CallHost,
    private readonly options: InterceptorOptions,
    private readonly nextCall: NextCall,
    first: InterceptingCallInterface,
    private readonly breaker: Breaker,
    private readonly permit: Permit,
    private readonly ri: RPCInfo,
    private readonly plan: AttemptPlan,
  ) {
    this.attempt = first;
  }

  start(metadata: Metadata, listener?: Partial<InterceptingListener>): void {
    this.listener = listener;
    this.metadata = metadata;
    if (this.host.latencyClock !== undefined) this.startedAt = this.host.latencyClock();
    this.attempt.start(this.tag(metadata), this.attemptListener(this.attempt));
  }

  sendMessageWithContext(context: MessageContext, message: unknown): void {
    if (this.plan.maxAttempts > 1) {
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
    if (this.plan.callId === undefined) return metadata;
    const md = metadata.clone();
    md.set(CALL_ID_HEADER, String(this.plan.callId));
    return md;
  }

  private attemptListener(attempt: InterceptingCallInterface): InterceptingListener {
    return {
      onReceiveMetadata: (md) => {
        if (attempt !== this.attempt) return;
        this.heard = true;
        this.checkPicked();
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
        if (this.shouldRetry(status)) {
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
    return this.plan.idempotent && this.attempts < this.plan.maxAttempts;
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

  private checkPicked(): void {
    const id = this.plan.callId;
    if (id !== undefined && !this.host.wasPicked(id)) this.host.missingPolicy(this.ri);
  }

  private shouldRetry(status: StatusObject): boolean {
    if (this.attempts >= this.plan.maxAttempts || this.responded || this.cancelled) return false;
    if (!this.hasMessage || !this.halfClosed || isCircuitBreakError(status)) return false;
    if (!isRefusedStatus(status) && !(this.plan.idempotent && isConnectionLevelStatus(status))) return false;
    const deadline = this.options.deadline;
    if (deadline !== undefined && deadline !== Number.POSITIVE_INFINITY && Date.now() >= new Date(deadline).getTime()) {
      return false;
    }
    return true;
  }

  private retry(): void {
    this.attempts++;
    this.heard = false;
    this.nullMessage = false;
    this.heldHeaders = undefined;
    this.heldMessage = undefined;
    this.hasHeldMessage = false;
    this.host.retried();
    const next = this.nextCall(this.options);
    this.attempt = next;
    next.start(this.tag(this.metadata as Metadata), this.attemptListener(next));
    if (this.hasMessage) next.sendMessage(this.message);
    if (this.halfClosed) next.halfClose();
  }

  private finish(status: StatusObject): void {
    if (this.done) return;
    this.done = true;
    if (this.plan.callId !== undefined) this.host.endCall(this.plan.callId);
    const clock = this.host.latencyClock;
    const latency = clock === undefined ? undefined : clock() - this.startedAt;
    // An OK came from a server; an error did when headers arrived, or as a trailers-only response (with a content-type).
    const fromServer = this.heard || status.code === 0 || status.metadata.get('content-type').length > 0;
    this.host.recordService(this.breaker, this.permit, this.ri, status, this.cancelled, latency, fromServer);
  }
}

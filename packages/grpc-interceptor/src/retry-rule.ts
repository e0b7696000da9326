import type { StatusObject } from '@grpc/grpc-js';
import { isCircuitBreakError } from './circuit-break-error.js';
import { isConnectionLevelStatus, isRefusedStatus } from './classify.js';

/** What is known of an attempt when its status arrives. */
export interface AttemptFacts {
  /** The attempt's final status. */
  readonly status: StatusObject;
  /** Attempts made so far, this one included. */
  readonly attempts: number;
  readonly maxAttempts: number;
  /** Whether the method is marked idempotent. */
  readonly idempotent: boolean;
  /** Whether the caller was given anything of this call (response headers or a message). */
  readonly responded: boolean;
  /** Whether the caller cancelled the call. */
  readonly cancelled: boolean;
  /** Whether the request message was sent and the call half-closed, so it can be sent again. */
  readonly complete: boolean;
  /** The call's deadline (epoch ms; Infinity for none) and the time now. */
  readonly deadlineMs: number;
  readonly nowMs: number;
}

/**
 * Whether a unary attempt is retried on another instance (see "Retries on
 * another instance" in docs/semantics.md). Only when the attempt provably
 * never reached the server application:
 *
 * - the server's HTTP/2 layer refused the stream (REFUSED_STREAM, as streams
 *   cut by a GOAWAY are), or
 * - for idempotent methods only, the connection failed before the status
 *   (the server may have run the request: safe to repeat only if idempotent).
 *
 * Never after the caller was given a response, never after the caller
 * cancelled, never for a call an instance breaker dropped (every instance was
 * tripped), never at or past the deadline, never past `maxAttempts`.
 */
export function shouldRetry(f: AttemptFacts): boolean {
  if (f.attempts >= f.maxAttempts || f.responded || f.cancelled || !f.complete) return false;
  if (isCircuitBreakError(f.status)) return false;
  if (!isRefusedStatus(f.status) && !(f.idempotent && isConnectionLevelStatus(f.status))) return false;
  return f.nowMs < f.deadlineMs;
}

/** A grpc-js deadline (a Date, epoch ms, or undefined/Infinity for none) as epoch ms. */
export function deadlineMsOf(deadline: Date | number | undefined): number {
  if (deadline === undefined || deadline === Number.POSITIVE_INFINITY) return Number.POSITIVE_INFINITY;
  return new Date(deadline).getTime();
}

import { status as Status, type StatusObject } from '@grpc/grpc-js';
import { isCircuitBreakError } from './circuit-break-error.js';

/**
 * How far an attempt got, as the transport saw it (not as the status's text
 * says):
 *
 * - `unsent`: the picker saw it but no stream was opened (no connection to any
 *   instance could be used): it never left the client;
 * - `refused`: the server's HTTP/2 layer refused the stream (`REFUSED_STREAM`):
 *   the server application never saw it;
 * - `lost`: a stream was opened, then the connection was lost or the stream
 *   reset under it (a server's forced shutdown included): the server may have
 *   run it;
 * - `answered`: a server sent the status;
 * - `local`: this client ended it (a cancel, the deadline);
 * - `unknown`: no picker of the suite saw it (the resolver failed, or the
 *   channel does not run the instance policy).
 */
export type AttemptReach = 'unsent' | 'refused' | 'lost' | 'answered' | 'local' | 'unknown';

/** What is known of an attempt when its status arrives. */
export interface AttemptFacts {
  /** The attempt's final status. */
  readonly status: StatusObject;
  /** How far the attempt got. */
  readonly reach: AttemptReach;
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
  /** Whether the call is made while handling a request that was itself a retry (chain stop). */
  readonly inRetriedRequest: boolean;
  /** Whether retries of the method are stopped: its service window's error rate is over `retryStopErrRate`. */
  readonly methodFailing: boolean;
  /** The wait the backoff asks for before the next attempt, ms (0: none). */
  readonly backoffMs: number;
  /**
   * A server's `grpc-retry-pushback-ms` on the status (see {@link pushbackMsOf}):
   * undefined when absent, -1 when negative or malformed.
   */
  readonly pushbackMs: number | undefined;
  /** The call's deadline (epoch ms; Infinity for none) and the time now. */
  readonly deadlineMs: number;
  readonly nowMs: number;
}

/** Why an attempt is not retried, named after the condition of the rule that said no. */
export type NoRetryReason =
  | 'maxAttempts'
  | 'cancelled'
  | 'responded'
  | 'incomplete'
  | 'circuitBreak'
  | 'notSafe'
  | 'chainStop'
  | 'methodFailing'
  | 'pushback'
  | 'deadline'
  | 'budget';

/** The rule's answer: retry after `delayMs`, or not, and why. */
export type RetryVerdict =
  | { readonly retry: true; readonly delayMs: number }
  | { readonly retry: false; readonly reason: NoRetryReason };

const no = (reason: NoRetryReason): RetryVerdict => ({ retry: false, reason });

/**
 * Whether a unary attempt is retried on another instance, and after what
 * wait: the rule of docs/semantics.md ("The retry rule, and idempotency"),
 * condition by condition in the order checked. The retry budget is asked
 * last, by the caller of this function, since asking it withdraws.
 */
export function shouldRetry(f: AttemptFacts): RetryVerdict {
  const reason = callRefusal(f);
  return reason === undefined ? suiteVerdict(f) : no(reason);
}

/**
 * The first conditions of the rule, those the call's own facts decide
 * (attempts, cancel, response, completeness, the status and how far the
 * attempt got): the reason the attempt is not retried, or undefined when
 * the suite's conditions decide. Most attempts (every OK among them) stop
 * here, before the suite's facts are looked up.
 */
export function callRefusal(f: CallFacts): NoRetryReason | undefined {
  if (f.attempts >= f.maxAttempts) return 'maxAttempts';
  if (f.cancelled) return 'cancelled';
  if (f.responded) return 'responded';
  if (!f.complete) return 'incomplete';
  if (isCircuitBreakError(f.status)) return 'circuitBreak';
  if (!safeToRepeat(f.reach, f.status.code, f.idempotent)) return 'notSafe';
  return undefined;
}

/** The rest of the rule, for an attempt {@link callRefusal} let through: chain stop, retry stop, pushback, deadline. */
export function suiteVerdict(f: AttemptFacts): RetryVerdict {
  if (f.inRetriedRequest) return no('chainStop');
  if (f.methodFailing) return no('methodFailing');
  if (f.pushbackMs !== undefined && f.pushbackMs < 0) return no('pushback');
  const delayMs = Math.max(f.backoffMs, f.pushbackMs ?? 0);
  if (f.nowMs + delayMs >= f.deadlineMs) return no('deadline');
  return { retry: true, delayMs };
}

/** The facts of an attempt that the call knows; the retry control adds the suite's. */
export type CallFacts = Omit<AttemptFacts, 'inRetriedRequest' | 'methodFailing' | 'backoffMs' | 'pushbackMs'>;

/**
 * Whether an attempt that ended so may run again. Never reached the server
 * application: any method. May have run there: only idempotent methods, and
 * only for a transport failure (UNAVAILABLE, or a CANCELLED the transport made).
 */
export function safeToRepeat(reach: AttemptReach, code: number, idempotent: boolean): boolean {
  if (reach === 'refused') return code === Status.UNAVAILABLE;
  if (reach === 'unsent') return code === Status.UNAVAILABLE;
  if (reach === 'lost') return idempotent && (code === Status.UNAVAILABLE || code === Status.CANCELLED);
  return false;
}

/** A grpc-js deadline (a Date, epoch ms, or undefined/Infinity for none) as epoch ms. */
export function deadlineMsOf(deadline: Date | number | undefined): number {
  if (deadline === undefined || deadline === Number.POSITIVE_INFINITY) return Number.POSITIVE_INFINITY;
  return new Date(deadline).getTime();
}

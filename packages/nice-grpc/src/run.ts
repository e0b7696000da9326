import type { Breaker, Permit } from '@cbsuite/core';
import { CALL_ID_HEADER, isCircuitBreakError as isLocalRejection } from '@cbsuite/grpc-interceptor';
import {
  type BreakerLevel,
  type CallRegistry,
  type CallState,
  newAttemptTransport,
  type RetryControl,
  type RPCInfo,
  reachOf,
  type ShedTicket,
  sentByServer,
} from '@cbsuite/grpc-interceptor/internals';
import type { StatusObject } from '@grpc/grpc-js';
import { type CallOptions, type ClientMiddlewareCall, Metadata } from 'nice-grpc-common';
import { AttemptWatch } from './attempt-watch.js';
import { circuitBreakClientError } from './rejection.js';

/** What a call's `next` ends with: the reply of a unary call, nothing for a response stream. */
// biome-ignore lint/suspicious/noConfusingVoidType: nice-grpc's ClientMiddleware returns Response | void
export type Ended<Response> = Response | void;

/** What a nice-grpc client middleware returns. */
export type MiddlewareRun<Response> = AsyncGenerator<Response, Ended<Response>, undefined>;

/** One call the service level admitted: what its outcome is recorded with. */
export interface GuardedRun {
  readonly level: BreakerLevel;
  readonly breaker: Breaker | undefined;
  readonly permit: Permit;
  readonly ticket: ShedTicket | undefined;
  readonly ri: RPCInfo;
  /** The service key. */
  readonly key: string;
  readonly startedAt: number;
  /** The level's latency clock at the start, when it tracks slow calls. */
  readonly clockAt: number | undefined;
  /** Epoch ms; Infinity for none. */
  readonly deadlineMs: number;
  state: CallState | undefined;
  registry: CallRegistry | undefined;
  retries: RetryControl | undefined;
}

/**
 * A unary or client-streaming call: one attempt, and for a unary call more on
 * other instances while the suite's retry control (retry-rule.ts and
 * retry-control.ts of grpc-interceptor) allows, then one outcome from the last attempt's status.
 */
export async function* runUnary<Request, Response>(
  run: GuardedRun,
  call: ClientMiddlewareCall<Request, Response>,
  options: CallOptions,
): MiddlewareRun<Response> {
  const state = begin(run, !call.requestStream);
  const max = state?.maxAttempts ?? 1;
  let attempts = 0;
  try {
    for (;;) {
      attempts++;
      const watch = new AttemptWatch();
      const hold = () => state?.idempotent === true && attempts < max;
      let result!: Ended<Response>;
      let error: unknown;
      let failed = false;
      try {
        result = yield* call.next(call.request, watch.options(options, tag(run, options.metadata), hold));
      } catch (err) {
        error = err;
        failed = true;
      }
      const cancelled = options.signal?.aborted === true;
      const status = watch.status(failed ? error : undefined, cancelled);
      if (state !== undefined && watch.heard) run.registry?.heard(state);
      const retries = run.retries;
      if (failed && state !== undefined && run.breaker !== undefined && retries !== undefined) {
        const end = state.transport.end;
        const fromServer = end !== undefined ? end === 'server' : watch.heard;
        if (fromServer) retries.heard(run.ri, status);
        if (attempts < max) {
          const v = retries.decide(run.key, run.ri, run.breaker, {
            status,
            reach: reachOf(state.transport),
            attempts,
            maxAttempts: max,
            idempotent: state.idempotent,
            responded: watch.responded,
            cancelled,
            complete: true,
            deadlineMs: run.deadlineMs,
            nowMs: Date.now(),
          });
          if (v.retry && (v.delayMs === 0 || (await waitOrAbort(v.delayMs, options.signal)))) {
            run.registry?.retried();
            state.transport = newAttemptTransport();
            continue;
          }
        }
      }
      finish(run, status, cancelled, watch.heard);
      const local = isLocalRejection(status);
      watch.deliver(options, local);
      if (failed) throw local ? circuitBreakClientError(call.method.path, status, 'instance', undefined) : error;
      return result;
    }
  } finally {
    end(run);
  }
}

/** A server-streaming or bidi call: never retried; one outcome when it ends, or when the caller stops reading (CANCELLED). */
export async function* runStreaming<Request, Response>(
  run: GuardedRun,
  call: ClientMiddlewareCall<Request, Response>,
  options: CallOptions,
): MiddlewareRun<Response> {
  begin(run, false);
  const watch = new AttemptWatch();
  let status: StatusObject | undefined;
  let cancelled = false;
  try {
    yield* call.next(
      call.request,
      watch.options(options, tag(run, options.metadata), () => false),
    );
    status = watch.status(undefined, false);
  } catch (err) {
    cancelled = options.signal?.aborted === true;
    status = watch.status(err, cancelled);
    const local = isLocalRejection(status);
    if (local) throw circuitBreakClientError(call.method.path, status, 'instance', undefined);
    throw err;
  } finally {
    if (status === undefined) {
      // The caller stopped reading: nice-grpc cancels the call.
      cancelled = true;
      status = watch.status(new Error('Cancelled on client'), true);
    }
    if (run.state !== undefined && watch.heard) run.registry?.heard(run.state);
    finish(run, status, cancelled, watch.heard);
    watch.deliver(options, isLocalRejection(status));
    end(run);
  }
}

function begin(run: GuardedRun, unary: boolean): CallState | undefined {
  if (run.breaker === undefined || run.registry === undefined) return undefined;
  run.state = run.registry.begin(run.ri, unary);
  return run.state;
}

/**
 * The caller's metadata, tagged with the call's id for the instance picker (a
 * copy: the caller's is left as is). A header: nice-grpc copies the entries
 * into a metadata of grpc-js's, not its options.
 */
function tag(run: GuardedRun, metadata: Metadata | undefined): Metadata | undefined {
  const state = run.state;
  if (state === undefined || run.registry === undefined) return metadata;
  const md = Metadata(metadata);
  md.set(CALL_ID_HEADER, run.registry.headerValue(state));
  return md;
}

function end(run: GuardedRun): void {
  if (run.state !== undefined) run.registry?.end(run.state);
}

/** Records the call's one outcome and ends its shed ticket. */
function finish(run: GuardedRun, status: StatusObject, cancelled: boolean, heard: boolean): void {
  end(run);
  run.ticket?.end(status, cancelled);
  const clock = run.level.latencyClock;
  const latency = clock === undefined || run.clockAt === undefined ? undefined : clock() - run.clockAt;
  const fromServer = sentByServer(undefined, heard, status);
  if (run.breaker !== undefined)
    run.level.recordCall(run.breaker, run.permit, status, run.ri, cancelled, fromServer, latency);
}

/** Waits `ms` (a retry's backoff or pushback); false when the caller aborted meanwhile. */
function waitOrAbort(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

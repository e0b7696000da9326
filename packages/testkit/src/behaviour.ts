// How an Echo server answers Say, as plain data: a share of calls failing
// with a status code, after a delay. Unlike echo.ts's `Behavior` (a function
// the server calls), it can be sent to a server in another process, and
// changed there at run time (child-server.ts).
import { status as Status } from '@grpc/grpc-js';
import type { Answer } from './echo.js';

/** Status codes a server can be told to fail with. */
export type FailureCode = 'INTERNAL' | 'UNAVAILABLE' | 'RESOURCE_EXHAUSTED' | 'UNKNOWN';

export interface Behaviour {
  /** Share of calls, in [0, 1], that fail with `code`. */
  readonly failRate: number;
  readonly code: FailureCode;
  /** Delay before every answer, in ms. */
  readonly delayMs: number;
  /** Share of calls, in [0, 1], answered after `slowMs` instead of `delayMs`. Default 0. */
  readonly slowRate?: number;
  readonly slowMs?: number;
  /**
   * The server's admission limit: at most this many calls in flight (each
   * until its answer is due); beyond it, answers `RESOURCE_EXHAUSTED` at
   * once. Default none.
   */
  readonly limit?: number;
}

/** Answers at once, never fails: what a server process does until told otherwise. */
export const IMMEDIATE: Behaviour = Object.freeze({ failRate: 0, code: 'INTERNAL', delayMs: 0 });

/** Decides the answer to one call; `random` returns a number in [0, 1). */
export function answerFor(b: Behaviour, random: () => number): Answer & { readonly delayMs: number } {
  const fails = b.failRate > 0 && random() < b.failRate;
  const slow = b.slowRate !== undefined && b.slowRate > 0 && random() < b.slowRate;
  return { delayMs: slow ? (b.slowMs ?? b.delayMs) : b.delayMs, code: fails ? Status[b.code] : undefined };
}

/** What a server over its `limit` answers. */
export const OVER_LIMIT: Answer = Object.freeze({ code: Status.RESOURCE_EXHAUSTED, details: 'over the limit' });

/**
 * One server's answers to whatever `current()` says now, keeping its `limit`
 * of calls in flight: a call is in flight from its answer until that answer
 * is due (the count drops just before the server answers).
 */
export function answerer(current: () => Behaviour, random: () => number): () => Answer {
  let inFlight = 0;
  const done = () => {
    inFlight--;
  };
  return () => {
    const b = current();
    if (b.limit === undefined) return answerFor(b, random);
    if (inFlight >= b.limit) return OVER_LIMIT;
    const a = answerFor(b, random);
    inFlight++;
    setTimeout(done, a.delayMs);
    return a;
  };
}

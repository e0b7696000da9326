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
}

/** Answers at once, never fails: what a server process does until told otherwise. */
export const IMMEDIATE: Behaviour = Object.freeze({ failRate: 0, code: 'INTERNAL', delayMs: 0 });

/** Decides the answer to one call; `random` returns a number in [0, 1). */
export function answerFor(b: Behaviour, random: () => number): Answer & { readonly delayMs: number } {
  const fails = b.failRate > 0 && random() < b.failRate;
  const slow = b.slowRate !== undefined && b.slowRate > 0 && random() < b.slowRate;
  return { delayMs: slow ? (b.slowMs ?? b.delayMs) : b.delayMs, code: fails ? Status[b.code] : undefined };
}

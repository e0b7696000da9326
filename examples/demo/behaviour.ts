import { status as Status } from '@grpc/grpc-js';

/** Status codes an instance can be told to fail with. */
export type FailureCode = 'INTERNAL' | 'UNAVAILABLE' | 'RESOURCE_EXHAUSTED' | 'UNKNOWN';

/** How an instance answers `Say`: the demo changes it at run time over IPC. */
export interface Behaviour {
  /** Share of calls, in [0, 1], that fail with `code`. */
  readonly failRate: number;
  readonly code: FailureCode;
  /** Delay before every answer, in ms. */
  readonly delayMs: number;
}

/** Answers at once, never fails: what an instance does until told otherwise. */
export const IMMEDIATE: Behaviour = Object.freeze({ failRate: 0, code: 'INTERNAL', delayMs: 0 });

/** What an instance does with one call: answer after `delayMs`, failing with `code` when set. */
export interface Answer {
  readonly delayMs: number;
  readonly code: Status | undefined;
}

/** Decides the answer to one call; `random` returns a number in [0, 1). */
export function answerFor(b: Behaviour, random: () => number): Answer {
  const fails = b.failRate > 0 && random() < b.failRate;
  return { delayMs: b.delayMs, code: fails ? Status[b.code] : undefined };
}

/** `healthy, 15 ms` or `35% INTERNAL, 80 ms`. */
export function describeBehaviour(b: Behaviour): string {
  const health = b.failRate > 0 ? `${Math.round(b.failRate * 100)}% ${b.code}` : 'healthy';
  return b.delayMs > 0 ? `${health}, ${b.delayMs} ms` : health;
}

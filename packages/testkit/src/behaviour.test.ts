import { status } from '@grpc/grpc-js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { answerer, answerFor, IMMEDIATE, OVER_LIMIT } from './behaviour.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('behaviour', () => {
  it('fails a call when the random draw falls under the fail rate', () => {
    const b = { failRate: 0.35, code: 'INTERNAL', delayMs: 80 } as const;
    expect(answerFor(b, () => 0.1)).toEqual({ delayMs: 80, code: status.INTERNAL });
    expect(answerFor(b, () => 0.35)).toEqual({ delayMs: 80, code: undefined });
    expect(answerFor(IMMEDIATE, () => 0)).toEqual({ delayMs: 0, code: undefined });
  });

  it('keeps a limit of calls in flight: over it, RESOURCE_EXHAUSTED at once, until an answer falls due', () => {
    vi.useFakeTimers();
    let b = { failRate: 0, code: 'INTERNAL', delayMs: 20, limit: 2 } as const;
    const answer = answerer(
      () => b,
      () => 0.5,
    );
    expect([answer(), answer(), answer()]).toEqual([
      { delayMs: 20, code: undefined },
      { delayMs: 20, code: undefined },
      OVER_LIMIT,
    ]);
    vi.advanceTimersByTime(19);
    expect(answer()).toBe(OVER_LIMIT);
    vi.advanceTimersByTime(1);
    expect(answer()).toEqual({ delayMs: 20, code: undefined });
    b = { ...b, limit: undefined } as never;
    expect([answer(), answer(), answer()].map((a) => a.code)).toEqual([undefined, undefined, undefined]);
  });
});

import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { answerFor, IMMEDIATE } from './behaviour.js';

describe('behaviour', () => {
  it('fails a call when the random draw falls under the fail rate', () => {
    const b = { failRate: 0.35, code: 'INTERNAL', delayMs: 80 } as const;
    expect(answerFor(b, () => 0.1)).toEqual({ delayMs: 80, code: status.INTERNAL });
    expect(answerFor(b, () => 0.35)).toEqual({ delayMs: 80, code: undefined });
    expect(answerFor(IMMEDIATE, () => 0)).toEqual({ delayMs: 0, code: undefined });
  });
});

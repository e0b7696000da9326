import { IMMEDIATE } from '@cbsuite/testkit/behaviour.js';
import { describe, expect, it } from 'vitest';
import { describeBehaviour } from './format.js';

describe('behaviour', () => {
  it('describes a behaviour in a few words', () => {
    expect(describeBehaviour(IMMEDIATE)).toBe('healthy');
    expect(describeBehaviour({ failRate: 0, code: 'INTERNAL', delayMs: 15 })).toBe('healthy, 15 ms');
    expect(describeBehaviour({ failRate: 0.35, code: 'INTERNAL', delayMs: 80 })).toBe('35% INTERNAL, 80 ms');
  });
});

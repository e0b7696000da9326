import { describe, expect, it } from 'vitest';
import { DEFAULT_PROFILE, QUICK_PROFILE, shareOf } from './profile.js';

describe('shareOf', () => {
  it('cuts the load into equal shares, so that four nodes send about what one sends alone', () => {
    for (const p of [DEFAULT_PROFILE, QUICK_PROFILE]) {
      const share = shareOf(p, 4);
      expect(share.load).toEqual({ ratePerSec: 50, maxInFlight: 3, deadlineMs: p.load.deadlineMs });
      expect({ ...share, load: p.load }).toEqual(p);
    }
    expect(shareOf(QUICK_PROFILE, 24).load.maxInFlight).toBe(1);
  });
});

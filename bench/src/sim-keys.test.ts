import { describe, expect, it } from 'vitest';
import { Keys } from '../../packages/redis-sync/src/keys.js';
import { groupOf, simKeys } from './sim-keys.js';

describe('simKeys', () => {
  it("computes redis-sync's key group", () => {
    const keys = new Keys('ns', 12);
    for (let i = 0; i < 200; i++)
      expect(groupOf('service', `sim/pkg.Svc/M${i}`, 12)).toBe(keys.groupOf('service', `sim/pkg.Svc/M${i}`));
  });

  it('spreads ten keys 4, 3 and 3 over three masters, each in a group of its own', () => {
    const groups = simKeys(10).map((k) => groupOf('service', k, 12));
    const per = [0, 0, 0];
    for (const g of groups) per[Math.floor(g / 4)]++;
    expect(per.sort()).toEqual([3, 3, 4]);
    expect(new Set(groups).size).toBe(10);
  });

  it('keeps one key as it was', () => {
    expect(simKeys(1)).toEqual(['sim/pkg.Svc/M0']);
  });
});

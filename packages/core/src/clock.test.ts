import { afterEach, describe, expect, it, vi } from 'vitest';
import { loopClock, systemClock } from './clock.js';

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('loopClock', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('reads the monotonic clock once per event-loop turn, in epoch milliseconds', async () => {
    await nextTurn();
    const spy = vi.spyOn(performance, 'now').mockReturnValue(1_000);
    expect(loopClock()).toBe(performance.timeOrigin + 1_000);
    spy.mockReturnValue(1_100);
    expect(loopClock()).toBe(performance.timeOrigin + 1_000);
    expect(spy).toHaveBeenCalledTimes(1);
    await nextTurn();
    expect(loopClock()).toBe(performance.timeOrigin + 1_100);
    expect(spy).toHaveBeenCalledTimes(2);
  });

  it('re-reads after 256 reads in one long turn', async () => {
    await nextTurn();
    const spy = vi.spyOn(performance, 'now').mockReturnValue(2_000);
    loopClock();
    spy.mockReturnValue(2_500);
    const seen = new Set<number>();
    for (let i = 0; i < 300; i++) seen.add(loopClock() - performance.timeOrigin);
    expect([...seen]).toEqual([2_000, 2_500]);
  });

  it('is not moved by steps of the system clock', async () => {
    await nextTurn();
    const before = loopClock();
    vi.spyOn(Date, 'now').mockReturnValue(before - 3_600_000);
    await nextTurn();
    expect(loopClock()).toBeGreaterThanOrEqual(before);
    expect(Math.abs(loopClock() - Date.now.call(globalThis))).toBeGreaterThan(3_000_000);
  });

  it('stays close to Date.now on a machine whose clock is not stepped', async () => {
    await nextTurn();
    expect(Math.abs(loopClock() - Date.now())).toBeLessThan(1_000);
  });

  it('systemClock reads Date.now every time', () => {
    const spy = vi.spyOn(Date, 'now').mockReturnValue(1);
    systemClock();
    systemClock();
    expect(spy).toHaveBeenCalledTimes(2);
  });
});

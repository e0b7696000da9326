import { ManualClock } from '@cbsuite/testkit/manual-clock.js';
import { describe, expect, it } from 'vitest';
import { RetryBudget, resolveRetryBudget } from './retry-budget.js';

const budget = (o: Parameters<typeof resolveRetryBudget>[0], clock = new ManualClock(0)) => ({
  b: new RetryBudget(resolveRetryBudget(o), clock.now),
  clock,
});

describe('RetryBudget (Finagle semantics)', () => {
  it('defaults to 0.2 of calls, 10 per second, over 10 s', () => {
    expect(resolveRetryBudget({})).toEqual({ percentCanRetry: 0.2, minRetriesPerSec: 10, ttlMs: 10_000 });
    const { b } = budget({});
    expect(b.balance()).toBe(100);
  });

  it('allows minRetriesPerSec × ttl retries with no calls, then refuses without changing anything', () => {
    const { b } = budget({ percentCanRetry: 0, minRetriesPerSec: 2, ttlMs: 1000 });
    expect(b.tryWithdraw()).toBe(true);
    expect(b.tryWithdraw()).toBe(true);
    expect(b.tryWithdraw()).toBe(false);
    expect(b.balance()).toBe(0);
  });

  it('earns percentCanRetry of a retry per call', () => {
    const { b } = budget({ percentCanRetry: 0.25, minRetriesPerSec: 0, ttlMs: 1000 });
    for (let i = 0; i < 3; i++) b.deposit();
    expect(b.tryWithdraw()).toBe(false);
    b.deposit();
    expect(b.tryWithdraw()).toBe(true);
    expect(b.tryWithdraw()).toBe(false);
  });

  it('takes back a refunded withdrawal, the latest still in the window, and nothing more', () => {
    const { b, clock } = budget({ percentCanRetry: 0, minRetriesPerSec: 2, ttlMs: 1000 });
    expect(b.tryWithdraw()).toBe(true); // slice 0
    clock.advance(300);
    b.refund();
    expect(b.balance()).toBe(2);
    b.refund(); // nothing left to give back
    expect(b.balance()).toBe(2);
    expect(b.tryWithdraw()).toBe(true);
    expect(b.tryWithdraw()).toBe(true);
    expect(b.tryWithdraw()).toBe(false);
  });

  it('never retries with both parts zero', () => {
    const { b } = budget({ percentCanRetry: 0, minRetriesPerSec: 0, ttlMs: 1000 });
    for (let i = 0; i < 100; i++) b.deposit();
    expect(b.tryWithdraw()).toBe(false);
  });

  it('forgets deposits and withdrawals after ttlMs, slice by slice', () => {
    const { b, clock } = budget({ percentCanRetry: 1, minRetriesPerSec: 0, ttlMs: 1000 });
    b.deposit(); // slice 0
    clock.advance(500);
    b.deposit(); // slice 5
    expect(b.tryWithdraw()).toBe(true);
    expect(b.balance()).toBe(1);
    clock.advance(499); // 999: all still in the window
    expect(b.balance()).toBe(1);
    clock.advance(1); // 1000: slice 0 has left
    expect(b.balance()).toBe(0);
    clock.advance(500); // 1500: slice 5 (a deposit and a withdrawal) has left
    expect(b.balance()).toBe(0);
    b.deposit();
    expect(b.balance()).toBe(1);
    clock.advance(60_000);
    expect(b.balance()).toBe(0);
  });

  it('bounds retries to minRetriesPerSec × ttl + percentCanRetry × calls in any window', () => {
    const { b, clock } = budget({});
    let retries = 0;
    for (let i = 0; i < 10_000; i++) {
      b.deposit();
      if (b.tryWithdraw()) retries++;
      clock.advance(1); // 10 s in all: one window
    }
    expect(retries).toBe(100 + 2000);
  });
});

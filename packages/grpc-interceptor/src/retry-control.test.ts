import { Panel } from '@cbsuite/core';
import { grpc } from '@cbsuite/testkit/echo.js';
import { ManualClock } from '@cbsuite/testkit/manual-clock.js';
import { describe, expect, it } from 'vitest';
import type { CBRetryEvent } from './events.js';
import { type CallFacts, RetryControl } from './retry-control.js';
import type { RetryOptions } from './retry-options.js';
import { resolveRetryOptions } from './retry-options.js';
import { rpcInfoOf } from './rpc-info.js';

const A = rpcInfoOf('', '/a.A/Get');
const B = rpcInfoOf('', '/b.B/Get');
const refused: CallFacts = {
  status: { code: grpc.status.UNAVAILABLE, details: 'Stream refused by server', metadata: new grpc.Metadata() },
  reach: 'refused',
  attempts: 1,
  maxAttempts: 3,
  idempotent: false,
  responded: false,
  cancelled: false,
  complete: true,
  deadlineMs: Number.POSITIVE_INFINITY,
  nowMs: 0,
};

function control(options: RetryOptions) {
  const clock = new ManualClock(0);
  const c = new RetryControl(resolveRetryOptions({ retryStopErrRate: false, ...options }), clock.now);
  const breaker = new Panel({ now: clock.now }).getBreaker('k');
  const events: CBRetryEvent[] = [];
  c.onRetry((e) => events.push(e));
  return { c, clock, breaker, events };
}

const answered = (code: grpc.status, pushback: string) => {
  const metadata = new grpc.Metadata();
  metadata.set('grpc-retry-pushback-ms', pushback);
  return { code, details: 'busy', metadata };
};

describe('RetryControl', () => {
  it('keeps one budget per target service', () => {
    const { c, breaker } = control({ retryBudget: { percentCanRetry: 0, minRetriesPerSec: 1, ttlMs: 1000 } });
    expect(c.decide('k', A, breaker, refused)).toEqual({ retry: true, delayMs: 0 });
    expect(c.decide('k', A, breaker, refused)).toEqual({ retry: false, reason: 'budget' });
    expect(c.decide('k', B, breaker, refused)).toEqual({ retry: true, delayMs: 0 });
    expect(c.stats()).toMatchObject({ retries: 2, budgetRefusals: 1 });
  });

  it("holds retries to a service until a server's pushback has passed, then forgets it", () => {
    const { c, clock, breaker, events } = control({ retryBudget: false });
    c.heard(A, answered(grpc.status.RESOURCE_EXHAUSTED, '500'));
    clock.advance(200);
    expect(c.decide('k', A, breaker, refused)).toEqual({ retry: true, delayMs: 300 });
    expect(c.decide('k', B, breaker, refused)).toEqual({ retry: true, delayMs: 0 });
    expect(c.decide('k', A, breaker, { ...refused, deadlineMs: 100, nowMs: 0 })).toEqual({
      retry: false,
      reason: 'deadline',
    });
    clock.advance(300);
    expect(c.decide('k', A, breaker, refused)).toEqual({ retry: true, delayMs: 0 });
    expect(c.stats()).toMatchObject({ retries: 3, pushbacks: 2 });
    expect(events.map((e) => [e.outcome, e.delayMs])).toEqual([
      ['retried', 300],
      ['retried', 0],
      ['pushback', 0],
      ['retried', 0],
    ]);
  });

  it('ignores a pushback that is 0, negative or malformed for the service hold', () => {
    const { c, breaker } = control({ retryBudget: false });
    for (const v of ['0', '-1', 'soon']) c.heard(A, answered(grpc.status.UNAVAILABLE, v));
    expect(c.decide('k', A, breaker, refused)).toEqual({ retry: true, delayMs: 0 });
  });

  it("refuses on the attempt's own negative or malformed pushback", () => {
    const { c, breaker, events } = control({ retryBudget: false });
    const status = answered(grpc.status.UNAVAILABLE, '-5');
    expect(c.decide('k', A, breaker, { ...refused, status })).toEqual({ retry: false, reason: 'pushback' });
    expect(events.map((e) => e.outcome)).toEqual(['pushback']);
    expect(c.stats().pushbacks).toBe(1);
  });

  it('stops retries of a method with 10 samples at or above retryStopErrRate', () => {
    const { c, breaker } = control({ retryBudget: false, retryStopErrRate: 0.1 });
    for (let i = 0; i < 9; i++) breaker.succeed();
    breaker.fail();
    expect(c.decide('k', A, breaker, refused)).toEqual({ retry: false, reason: 'methodFailing' });
    breaker.succeed();
    expect(breaker.metricer().errorRate()).toBeLessThan(0.1);
    expect(c.decide('k', A, breaker, refused)).toEqual({ retry: true, delayMs: 0 });
    expect(c.stats()).toMatchObject({ methodStops: 1, retries: 1 });
  });

  it('reports nothing for attempts the rule finds unsafe to repeat', () => {
    const { c, breaker, events } = control({});
    expect(c.decide('k', A, breaker, { ...refused, reach: 'answered' })).toEqual({ retry: false, reason: 'notSafe' });
    expect(events).toEqual([]);
    expect(c.stats()).toEqual({
      retries: 0,
      budgetRefusals: 0,
      pushbacks: 0,
      methodStops: 0,
      chainStops: 0,
      deadlineStops: 0,
      hedges: 0,
      hedgeWins: 0,
      hedgeRefusals: 0,
    });
  });
});

import { grpc } from '@cbsuite/testkit/echo.js';
import { describe, expect, it } from 'vitest';
import { circuitBreakStatus } from './circuit-break-error.js';
import { type AttemptFacts, deadlineMsOf, shouldRetry } from './retry-rule.js';

const status = (code: grpc.status, details: string) => ({ code, details, metadata: new grpc.Metadata() });
const REFUSED = status(grpc.status.UNAVAILABLE, 'Stream refused by server');
const DROPPED = status(grpc.status.UNAVAILABLE, 'Connection dropped');
const RESET = status(grpc.status.UNAVAILABLE, 'read ECONNRESET');
const APP_UNAVAILABLE = status(grpc.status.UNAVAILABLE, 'not ready');
const INTERNAL = status(grpc.status.INTERNAL, 'boom');
const DROPPED_BY_BREAKER = circuitBreakStatus('instance', undefined);

// A first attempt of a unary call, sent whole, nothing given to the caller, no deadline.
const base: AttemptFacts = {
  status: REFUSED,
  attempts: 1,
  maxAttempts: 3,
  idempotent: false,
  responded: false,
  cancelled: false,
  complete: true,
  deadlineMs: Number.POSITIVE_INFINITY,
  nowMs: 1000,
};

// The rule of docs/semantics.md, "The retry rule, and idempotency", row by row.
describe('shouldRetry', () => {
  it.each<[string, Partial<AttemptFacts>, boolean]>([
    // 2. Attempts that provably never reached the server application are retried.
    ['a stream refused by the server (any method)', {}, true],
    ['a stream refused, second attempt of three', { attempts: 2 }, true],
    // 3. Attempts the server may have processed: only for idempotent methods.
    ['a dropped connection, method not idempotent', { status: DROPPED }, false],
    ['a dropped connection, idempotent method', { status: DROPPED, idempotent: true }, true],
    ['a reset connection, idempotent method', { status: RESET, idempotent: true }, true],
    [
      'UNAVAILABLE sent by the server application, idempotent method',
      { status: APP_UNAVAILABLE, idempotent: true },
      false,
    ],
    ['any other error, idempotent method', { status: INTERNAL, idempotent: true }, false],
    // 4. Never after a response, a cancel, the deadline or maxAttempts, nor for a drop by the instance breakers.
    ['after the caller was given a response', { responded: true }, false],
    ['after the caller cancelled', { cancelled: true }, false],
    ['at the deadline', { deadlineMs: 1000 }, false],
    ['past the deadline', { deadlineMs: 999 }, false],
    ['before the deadline', { deadlineMs: 1001 }, true],
    ['at maxAttempts', { attempts: 3 }, false],
    ['with retries off (maxAttempts 1)', { maxAttempts: 1 }, false],
    ['a call every instance breaker dropped', { status: DROPPED_BY_BREAKER, idempotent: true }, false],
    ['a request not yet sent whole (not half-closed)', { complete: false }, false],
  ])('%s: %s', (_name, facts, expected) => {
    expect(shouldRetry({ ...base, ...facts })).toBe(expected);
  });
});

describe('deadlineMsOf', () => {
  it.each<[Date | number | undefined, number]>([
    [undefined, Number.POSITIVE_INFINITY],
    [Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY],
    [1234, 1234],
    [new Date(5678), 5678],
  ])('%s is %s', (deadline, ms) => {
    expect(deadlineMsOf(deadline)).toBe(ms);
  });
});

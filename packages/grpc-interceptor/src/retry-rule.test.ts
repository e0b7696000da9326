import { grpc } from '@cbsuite/testkit/echo.js';
import { describe, expect, it } from 'vitest';
import { circuitBreakStatus } from './circuit-break-error.js';
import { pushbackMsOf } from './pushback.js';
import { type AttemptFacts, deadlineMsOf, type RetryVerdict, shouldRetry } from './retry-rule.js';

const status = (code: grpc.status, details: string) => ({ code, details, metadata: new grpc.Metadata() });
const UNAVAILABLE = status(grpc.status.UNAVAILABLE, 'whatever the text');
const CANCELLED = status(grpc.status.CANCELLED, 'Call cancelled');
const INTERNAL = status(grpc.status.INTERNAL, 'Received RST_STREAM with code 2');
const DEADLINE = status(grpc.status.DEADLINE_EXCEEDED, 'Deadline exceeded');
const DROPPED_BY_BREAKER = circuitBreakStatus('instance', undefined);

// A first attempt of a unary call refused by the server's HTTP/2 layer, sent
// whole, nothing given to the caller, no deadline, nothing stopping retries.
const base: AttemptFacts = {
  status: UNAVAILABLE,
  reach: 'refused',
  attempts: 1,
  maxAttempts: 3,
  idempotent: false,
  responded: false,
  cancelled: false,
  complete: true,
  inRetriedRequest: false,
  methodFailing: false,
  backoffMs: 0,
  pushbackMs: undefined,
  deadlineMs: Number.POSITIVE_INFINITY,
  nowMs: 1000,
};

const yes = (delayMs = 0): RetryVerdict => ({ retry: true, delayMs });
const no = (reason: string): RetryVerdict => ({ retry: false, reason }) as RetryVerdict;

// The rule of docs/semantics.md, "The retry rule, and idempotency", condition by condition.
describe('shouldRetry', () => {
  it.each<[string, Partial<AttemptFacts>, RetryVerdict]>([
    // Attempts that provably never reached the server application: any method.
    ['a stream refused by the server (any method)', {}, yes()],
    ['a stream refused, second attempt of three', { attempts: 2 }, yes()],
    ['an attempt no stream was opened for (no connection), not idempotent', { reach: 'unsent' }, yes()],
    ['an unsent attempt ended by its deadline', { reach: 'unsent', status: DEADLINE }, no('notSafe')],
    // Attempts the server may have run: only idempotent methods, only transport failures.
    ['a lost connection, method not idempotent', { reach: 'lost' }, no('notSafe')],
    ['a lost connection, idempotent method', { reach: 'lost', idempotent: true }, yes()],
    [
      'a reset stream (CANCELLED by the server), idempotent',
      { reach: 'lost', status: CANCELLED, idempotent: true },
      yes(),
    ],
    ['a reset stream (CANCELLED by the server), not idempotent', { reach: 'lost', status: CANCELLED }, no('notSafe')],
    ['a reset stream with INTERNAL, idempotent', { reach: 'lost', status: INTERNAL, idempotent: true }, no('notSafe')],
    // What a server sent is never retried, whatever its text.
    ['UNAVAILABLE a server sent, idempotent', { reach: 'answered', idempotent: true }, no('notSafe')],
    ['an attempt this client ended', { reach: 'local', status: CANCELLED, idempotent: true }, no('notSafe')],
    ['an attempt no picker of the suite saw', { reach: 'unknown', idempotent: true }, no('notSafe')],
    // Conditions on the call, checked first.
    ['at maxAttempts', { attempts: 3 }, no('maxAttempts')],
    ['with retries off (maxAttempts 1)', { maxAttempts: 1 }, no('maxAttempts')],
    ['after the caller cancelled', { cancelled: true }, no('cancelled')],
    ['after the caller was given a response', { responded: true }, no('responded')],
    ['a request not yet sent whole (not half-closed)', { complete: false }, no('incomplete')],
    ['a call every instance breaker dropped', { status: DROPPED_BY_BREAKER, reach: 'unsent' }, no('circuitBreak')],
    // Then the suite's stops, in order.
    ['while handling a retried request (chain stop)', { inRetriedRequest: true }, no('chainStop')],
    ['a method whose error rate stops retries', { methodFailing: true }, no('methodFailing')],
    ['chain stop is checked before the method stop', { inRetriedRequest: true, methodFailing: true }, no('chainStop')],
    ['a negative or malformed pushback', { pushbackMs: -1 }, no('pushback')],
    ['a pushback of 0', { pushbackMs: 0 }, yes(0)],
    ['a pushback longer than the backoff', { pushbackMs: 300, backoffMs: 100 }, yes(300)],
    ['a backoff longer than the pushback', { pushbackMs: 50, backoffMs: 100 }, yes(100)],
    // The deadline, with the wait.
    ['at the deadline', { deadlineMs: 1000 }, no('deadline')],
    ['past the deadline', { deadlineMs: 999 }, no('deadline')],
    ['before the deadline', { deadlineMs: 1001 }, yes()],
    ['a backoff that would reach the deadline', { backoffMs: 100, deadlineMs: 1100 }, no('deadline')],
    ['a backoff that ends before the deadline', { backoffMs: 100, deadlineMs: 1101 }, yes(100)],
    ['a pushback that would pass the deadline', { pushbackMs: 500, deadlineMs: 1200 }, no('deadline')],
  ])('%s', (_name, facts, expected) => {
    expect(shouldRetry({ ...base, ...facts })).toEqual(expected);
  });
});

describe('pushbackMsOf', () => {
  const withPushback = (...values: string[]) => {
    const md = new grpc.Metadata();
    for (const v of values) md.add('grpc-retry-pushback-ms', v);
    return { ...UNAVAILABLE, metadata: md };
  };
  it.each<[string[], number | undefined]>([
    [[], undefined],
    [['0'], 0],
    [['250'], 250],
    [['2147483647'], 2147483647],
    [['2147483648'], -1],
    [['-5'], -1],
    [['abc'], -1],
    [['1.5'], -1],
    [['007'], -1],
    [[' 5'], -1],
    [[''], -1],
    [['100', '5'], 100],
  ])('%j is %s', (values, ms) => {
    expect(pushbackMsOf(withPushback(...values))).toBe(ms);
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

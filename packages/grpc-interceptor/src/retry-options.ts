import { checkKeys, checkNumber, exponentialBackoff, OptionRangeError, OptionTypeError } from '@cbsuite/core';
import { type ResolvedRetryBudget, type RetryBudgetOptions, resolveRetryBudget } from './retry-budget.js';

/** Options of the wait between a failed attempt and its retry. */
export interface RetryBackoffOptions {
  /** Wait before the first retry, ms; each later retry waits twice the one before. Required, >= 0. */
  readonly baseMs: number;
  /** Cap on a wait, ms. Default 1000, >= baseMs. */
  readonly maxMs?: number;
  /** Spread, as a share of the wait: scaled by a random factor in `[1 − jitter, 1 + jitter]`. Default 0.2, in [0, 1]. */
  readonly jitter?: number;
}

/** The suite options that govern retries on another instance. */
export interface RetryOptions {
  /**
   * Finagle's retry budget, per target service (`ri.to`): retries may not
   * exceed `minRetriesPerSec × ttl + percentCanRetry × calls` over the last
   * `ttlMs`. Default `{ percentCanRetry: 0.2, minRetriesPerSec: 10, ttlMs: 10_000 }`;
   * `false` turns it off.
   */
  readonly retryBudget?: RetryBudgetOptions | false;
  /** Exponential backoff between attempts, never past the call's deadline. Default none: retry at once. */
  readonly retryBackoff?: RetryBackoffOptions;
  /**
   * No retries for a method whose service window has at least 10 samples and
   * an error rate at or above this (Kitex's retry circuit breaker). Default
   * 0.1, in (0, 1]; `false` turns it off.
   */
  readonly retryStopErrRate?: number | false;
  /**
   * Kitex's chain stop: a call made while handling a retried request (see
   * `chainStopHandlers`) is not retried, and carries the retry header on.
   * Default true.
   */
  readonly chainStop?: boolean;
}

/** Retry options, validated, with defaults applied. */
export interface ResolvedRetryOptions {
  readonly budget: ResolvedRetryBudget | false;
  /** The wait before retry number `n` (1 for the first retry), ms. */
  readonly backoff: ((n: number) => number) | undefined;
  readonly stopErrRate: number | false;
  readonly chainStop: boolean;
}

/** Validates the retry options of a suite; errors name the field by its path (`retryBackoff.baseMs`). */
export function resolveRetryOptions(o: RetryOptions, random: () => number = Math.random): ResolvedRetryOptions {
  return {
    budget: o.retryBudget === false ? false : resolveRetryBudget(o.retryBudget === undefined ? {} : o.retryBudget),
    backoff: o.retryBackoff === undefined ? undefined : backoffOf(o.retryBackoff, random),
    stopErrRate:
      o.retryStopErrRate === undefined ? 0.1 : o.retryStopErrRate === false ? false : stopRate(o.retryStopErrRate),
    chainStop: o.chainStop === undefined ? true : bool('chainStop', o.chainStop),
  };
}

function stopRate(v: unknown): number {
  const rate = checkNumber('retryStopErrRate', v, 0, 1);
  if (rate === 0) throw new OptionRangeError('retryStopErrRate', v, 'must be in (0, 1], or false to turn it off');
  return rate;
}

function bool(name: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw new OptionTypeError(name, v, 'must be a boolean');
  return v;
}

function backoffOf(value: unknown, random: () => number): (n: number) => number {
  const o = checkKeys('retryBackoff', value, ['baseMs', 'maxMs', 'jitter'], 'retryBackoff');
  if (o.baseMs === undefined) throw new OptionTypeError('retryBackoff.baseMs', undefined, 'is required');
  const baseMs = checkNumber('retryBackoff.baseMs', o.baseMs, 0);
  const maxMs = o.maxMs === undefined ? Math.max(1000, baseMs) : checkNumber('retryBackoff.maxMs', o.maxMs, baseMs);
  const jitter = o.jitter === undefined ? 0.2 : checkNumber('retryBackoff.jitter', o.jitter, 0, 1);
  const f = exponentialBackoff({ multiplier: 2, maxMs, jitter });
  return (n) => f(n - 1, baseMs, random);
}

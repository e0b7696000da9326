import { describe, expect, it } from 'vitest';
import {
  BreakerTimeoutError,
  CircuitBreakerError,
  isBreakerTimeoutError,
  isCircuitBreakerError,
  withoutStack,
} from './errors.js';
import { State } from './state.js';

describe('errors', () => {
  const breakerError = new CircuitBreakerError('k', State.Open, 'normal');
  const timeoutError = new BreakerTimeoutError('k', 10);
  // What the same classes look like when they come from another copy of @cbsuite/core.
  const foreignBreakerError = Object.defineProperty(new Error('x'), Symbol.for('@cbsuite/core:CircuitBreakerError'), {
    value: true,
  });
  const foreignTimeoutError = Object.defineProperty(new Error('x'), Symbol.for('@cbsuite/core:BreakerTimeoutError'), {
    value: true,
  });
  class SubError extends CircuitBreakerError {}
  const sub = new SubError('k', State.HalfOpen, 'normal');

  it.each([
    ['CircuitBreakerError', breakerError, true, false],
    ['BreakerTimeoutError', timeoutError, false, true],
    ['a CircuitBreakerError of another copy', foreignBreakerError, true, false],
    ['a BreakerTimeoutError of another copy', foreignTimeoutError, false, true],
    ['a subclass', sub, true, false],
    ['a plain Error', new Error('x'), false, false],
    ['null', null, false, false],
    ['a string', 'CircuitBreakerError', false, false],
    ['a look-alike object', { name: 'CircuitBreakerError', key: 'k' }, false, false],
  ])('guards and instanceof for %s', (_name, value, isBreaker, isTimeout) => {
    expect(isCircuitBreakerError(value)).toBe(isBreaker);
    expect(value instanceof CircuitBreakerError).toBe(isBreaker);
    expect(isBreakerTimeoutError(value)).toBe(isTimeout);
    expect(value instanceof BreakerTimeoutError).toBe(isTimeout);
  });

  it('keeps ordinary instanceof for subclasses', () => {
    expect(sub instanceof SubError).toBe(true);
    expect(breakerError instanceof SubError).toBe(false);
    expect(sub instanceof Error).toBe(true);
  });

  it('describes the rejection', () => {
    expect(breakerError).toMatchObject({ name: 'CircuitBreakerError', key: 'k', state: State.Open, mode: 'normal' });
    expect(breakerError.message).toBe('forbidden by circuitbreaker: "k" is OPEN');
    expect(new CircuitBreakerError('k', State.HalfOpen, 'normal').message).toBe(
      'forbidden by circuitbreaker: "k" is HALFOPEN',
    );
  });

  it('withoutStack builds an error with no stack frames and restores the limit', () => {
    const limit = Error.stackTraceLimit;
    const e = withoutStack(() => new Error('fast'));
    expect(String(e.stack)).not.toMatch(/\n\s+at /);
    expect(Error.stackTraceLimit).toBe(limit);
    expect(() =>
      withoutStack(() => {
        throw new Error('inner');
      }),
    ).toThrow('inner');
    expect(Error.stackTraceLimit).toBe(limit);
  });
});

import { type Mode, type State, stateName } from './state.js';

// Brands are registered symbols, so the guards and `instanceof` keep working
// when two copies of @cbsuite/core are installed (or the ESM and CJS builds
// are both loaded).
const BREAKER_BRAND = Symbol.for('@cbsuite/core:CircuitBreakerError');
const TIMEOUT_BRAND = Symbol.for('@cbsuite/core:BreakerTimeoutError');

function hasBrand(value: unknown, brand: symbol): boolean {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[brand] === true;
}

/** Builds an error without capturing a stack trace (the hot rejection path). */
export function withoutStack<E extends Error>(make: () => E): E {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return make();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/**
 * A call was not allowed: the breaker for `key` is OPEN, HALF_OPEN with no
 * probe slot free, or forced open.
 *
 * Rejections are frequent while a breaker is open, so these errors carry no
 * stack trace, and one instance is reused for every rejection by the same
 * breaker in the same state. Treat them as read-only.
 */
export class CircuitBreakerError extends Error {
  override readonly name = 'CircuitBreakerError';
  /** The breaker's key (the empty string for a stand-alone `Breaker`). */
  readonly key: string;
  /** The state that rejected the call. */
  readonly state: State;
  /** The breaker's mode when it rejected the call. */
  readonly mode: Mode;

  constructor(key: string, state: State, mode: Mode, message?: string) {
    super(
      message ??
        `forbidden by circuitbreaker: ${JSON.stringify(key)} is ${mode === 'forcedOpen' ? 'FORCED_OPEN' : stateName(state)}`,
    );
    Object.defineProperty(this, BREAKER_BRAND, { value: true });
    this.key = key;
    this.state = state;
    this.mode = mode;
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: subclasses keep ordinary instanceof
    if (this !== CircuitBreakerError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return hasBrand(value, BREAKER_BRAND);
  }
}

/** True when `err` is a {@link CircuitBreakerError} from any copy of @cbsuite/core. */
export function isCircuitBreakerError(err: unknown): err is CircuitBreakerError {
  return hasBrand(err, BREAKER_BRAND);
}

/** `execute` gave up on a call after its `timeoutMs`; the call was recorded as a timeout. */
export class BreakerTimeoutError extends Error {
  override readonly name = 'BreakerTimeoutError';
  readonly key: string;
  readonly timeoutMs: number;

  constructor(key: string, timeoutMs: number) {
    super(`call for ${JSON.stringify(key)} timed out after ${timeoutMs} ms`);
    Object.defineProperty(this, TIMEOUT_BRAND, { value: true });
    this.key = key;
    this.timeoutMs = timeoutMs;
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: subclasses keep ordinary instanceof
    if (this !== BreakerTimeoutError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return hasBrand(value, TIMEOUT_BRAND);
  }
}

/** True when `err` is a {@link BreakerTimeoutError} from any copy of @cbsuite/core. */
export function isBreakerTimeoutError(err: unknown): err is BreakerTimeoutError {
  return hasBrand(err, TIMEOUT_BRAND);
}

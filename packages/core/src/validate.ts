// Shared argument checks. Each names the option and shows the value it got:
// OptionTypeError for the wrong type (null included), OptionRangeError for a
// value out of range.
import { OptionRangeError, OptionTypeError } from './option-error.js';
import { show } from './show.js';

function number(name: string, value: unknown): number {
  if (typeof value !== 'number') throw new OptionTypeError(name, value, 'must be a number');
  if (Number.isNaN(value)) throw new OptionRangeError(name, value, 'must be a number');
  return value;
}

/** An integer in [min, max]. `max` may be Infinity, which is then allowed itself. */
export function checkInteger(name: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = number(name, value);
  if (n === Number.POSITIVE_INFINITY && max === Number.POSITIVE_INFINITY) return n;
  if (!Number.isInteger(n) || n < min || n > max) {
    const range = max >= Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`;
    throw new OptionRangeError(name, value, `must be an integer ${range}`);
  }
  return n;
}

/** A finite number in [min, max]. */
export function checkNumber(name: string, value: unknown, min: number, max = Number.MAX_VALUE): number {
  const n = number(name, value);
  if (!Number.isFinite(n) || n < min || n > max) {
    const range = max >= Number.MAX_VALUE ? `>= ${min}` : `in [${min}, ${max}]`;
    throw new OptionRangeError(name, value, `must be a finite number ${range}`);
  }
  return n;
}

export function checkBoolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new OptionTypeError(name, value, 'must be a boolean');
  return value;
}

export function checkFunction<F extends (...args: never[]) => unknown>(name: string, value: unknown): F {
  if (typeof value !== 'function') throw new OptionTypeError(name, value, 'must be a function');
  return value as F;
}

/**
 * A plain object whose keys are all in `known`. `name` is how messages name
 * the object (`CBSuite options`, or a path such as `serviceBreaker`); the
 * error for an unknown field has the field's path in `option`, nested under
 * `path` when given.
 */
export function checkKeys(
  name: string,
  value: unknown,
  known: readonly string[],
  path?: string,
): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new OptionTypeError(name, value, 'must be an object');
  }
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      const reason = `is not one of its fields (known: ${known.join(', ')})`;
      throw new OptionTypeError(
        path === undefined ? key : `${path}.${key}`,
        (value as Record<string, unknown>)[key],
        reason,
        `${name} has an unknown field ${show(key)}; known fields: ${known.join(', ')}`,
      );
    }
  }
  return value as Record<string, unknown>;
}

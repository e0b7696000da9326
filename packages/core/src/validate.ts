// Shared argument checks. Each names the option and shows the value it got:
// TypeError for the wrong type, RangeError for a value out of range.

/** Formats a received value for an error message. */
export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return 'a function';
  if (value === null || typeof value !== 'object') return String(value);
  if (Array.isArray(value)) return 'an array';
  try {
    const s = JSON.stringify(value);
    return s.length > 80 ? `${s.slice(0, 80)}…` : s;
  } catch {
    return 'an object';
  }
}

function number(name: string, value: unknown): number {
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number, got ${show(value)}`);
  if (Number.isNaN(value)) throw new RangeError(`${name} must be a number, got NaN`);
  return value;
}

/** An integer in [min, max]. `max` may be Infinity, which is then allowed itself. */
export function checkInteger(name: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = number(name, value);
  if (n === Number.POSITIVE_INFINITY && max === Number.POSITIVE_INFINITY) return n;
  if (!Number.isInteger(n) || n < min || n > max) {
    const range = max >= Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`;
    throw new RangeError(`${name} must be an integer ${range}, got ${show(value)}`);
  }
  return n;
}

/** A finite number in [min, max]. */
export function checkNumber(name: string, value: unknown, min: number, max = Number.MAX_VALUE): number {
  const n = number(name, value);
  if (!Number.isFinite(n) || n < min || n > max) {
    const range = max >= Number.MAX_VALUE ? `>= ${min}` : `in [${min}, ${max}]`;
    throw new RangeError(`${name} must be a finite number ${range}, got ${show(value)}`);
  }
  return n;
}

export function checkBoolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new TypeError(`${name} must be a boolean, got ${show(value)}`);
  return value;
}

export function checkFunction<F extends (...args: never[]) => unknown>(name: string, value: unknown): F {
  if (typeof value !== 'function') throw new TypeError(`${name} must be a function, got ${show(value)}`);
  return value as F;
}

/** A plain object whose keys are all in `known`. */
export function checkKeys(name: string, value: unknown, known: readonly string[]): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`${name} must be an object, got ${show(value)}`);
  }
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw new TypeError(`${name} has an unknown field ${show(key)}; known fields: ${known.join(', ')}`);
    }
  }
  return value as Record<string, unknown>;
}

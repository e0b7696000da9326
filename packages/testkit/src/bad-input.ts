// The values the bad-input tables feed every option and argument, what each
// kind of field accepts, and the check that a refusal is a typed error naming
// the field as the user wrote it and showing the value.

import { isOptionError, show } from '@cbsuite/core';
import fc from 'fast-check';
import { expect } from 'vitest';

/** Wrong types, NaN, ±Infinity, negative, non-integer, huge, null and BigInt. */
export const BAD_VALUES: readonly (readonly [string, unknown])[] = [
  ['a string', 'x'],
  ['a numeric string', '5'],
  ['true', true],
  ['an object', { a: 1 }],
  ['an array', [1]],
  ['a function', () => 1],
  ['a symbol', Symbol('s')],
  ['NaN', Number.NaN],
  ['Infinity', Number.POSITIVE_INFINITY],
  ['-Infinity', Number.NEGATIVE_INFINITY],
  ['-1', -1],
  ['0.5', 0.5],
  ['1e300', 1e300],
  ['2 ** 53', 2 ** 53],
  ['null', null],
  ['5n', 5n],
];

/** What a field accepts (`undefined` always means "not set"). */
export type Accepts = (value: unknown) => boolean;

export const isInt =
  (min: number, max: number, opts: { zeroIsDefault?: boolean } = {}): Accepts =>
  (v) =>
    typeof v === 'number' &&
    ((Number.isInteger(v) && v >= min && v <= max) ||
      (max === Number.POSITIVE_INFINITY && v === Number.POSITIVE_INFINITY) ||
      (opts.zeroIsDefault === true && v === 0));
export const isNumber =
  (min: number, max: number): Accepts =>
  (v) =>
    typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max;
export const isBoolean: Accepts = (v) => typeof v === 'boolean';
export const isFunction: Accepts = (v) => typeof v === 'function';
export const isString: Accepts = (v) => typeof v === 'string';
export const isOneOf =
  (...values: unknown[]): Accepts =>
  (v) =>
    values.includes(v);

const DAY_MS = 86_400_000;

/** What each breaker option accepts. */
export const BREAKER_FIELDS: Record<string, Accepts> = {
  bucketTimeMs: isInt(1, DAY_MS, { zeroIsDefault: true }),
  bucketNums: isInt(100, 100_000, { zeroIsDefault: true }),
  coolingTimeoutMs: isNumber(0, DAY_MS),
  detectTimeoutMs: isNumber(0, DAY_MS),
  halfOpenSuccesses: isInt(1, Number.MAX_SAFE_INTEGER, { zeroIsDefault: true }),
  shouldTrip: isFunction,
  shouldTripWithKey: isFunction,
  now: isFunction,
  random: isFunction,
  halfOpenMaxProbes: isInt(1, Number.POSITIVE_INFINITY),
  strictProbes: isBoolean,
  halfOpenProbeTimeoutMs: isNumber(1, DAY_MS),
  slowCallDurationMs: isNumber(0, DAY_MS),
  onHandlerError: isFunction,
};
/** What each panel option accepts. */
export const PANEL_FIELDS: Record<string, Accepts> = { ...BREAKER_FIELDS, maxKeys: isInt(1, Number.POSITIVE_INFINITY) };
/** What each exponentialBackoff option accepts. */
export const BACKOFF_FIELDS: Record<string, Accepts> = {
  multiplier: isNumber(1, Number.MAX_VALUE),
  maxMs: isNumber(0, Number.MAX_VALUE),
  jitter: isNumber(0, 1),
};

/** The bad values a field refuses, as table rows `[label, value]`. */
export function refusedBy(accepts: Accepts, extra: readonly (readonly [string, unknown])[] = []) {
  return [...BAD_VALUES, ...extra].filter(([, v]) => !accepts(v));
}

/** Any value at all, weighted towards the ones validation gets wrong. */
export const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.anything(),
  fc.double(),
  fc.integer({ min: -10, max: 300 }),
  fc.bigInt(),
  fc.constantFrom(null, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, 0, 1, 0.5, 2 ** 53),
);

/** Runs `fn`, which must throw; returns what it threw. */
export function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a refusal, but nothing was thrown');
}

/**
 * Asserts an option error: the typed class, `option` the path the user wrote,
 * `value` what they passed, both in the message (the value as code writes it).
 */
export function expectOptionError(err: unknown, path: string, value: unknown): void {
  expect(isOptionError(err), String(err)).toBe(true);
  const e = err as { option: string; value: unknown; message: string };
  expect(e.option).toBe(path);
  expect(Object.is(e.value, value)).toBe(true);
  expect(e.message.startsWith(`${path} `)).toBe(true);
  expect(e.message).toContain(`got ${show(value)}`);
}

import { OptionRangeError, OptionTypeError } from '@cbsuite/core';

/** Checks a Prometheus metric name prefix. */
export function checkPrefix(value: unknown): string {
  if (typeof value !== 'string') throw new OptionTypeError('prefix', value, 'must be a string');
  if (!/^([a-zA-Z_:][a-zA-Z0-9_:]*)?$/.test(value)) {
    throw new OptionRangeError('prefix', value, 'must be a Prometheus name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*)');
  }
  return value;
}

/** Checks bucket bounds: finite, positive, strictly increasing, at least one. */
export function checkBuckets(name: string, value: unknown): number[] {
  if (!Array.isArray(value)) throw new OptionTypeError(name, value, 'must be an array of numbers');
  if (value.length === 0) throw new OptionRangeError(name, value, 'must hold at least one bound');
  value.forEach((b, i) => {
    if (typeof b !== 'number') throw new OptionTypeError(`${name}[${i}]`, b, 'must be a number');
    if (!Number.isFinite(b) || b <= 0) throw new OptionRangeError(`${name}[${i}]`, b, 'must be a finite number > 0');
    if (i > 0 && b <= value[i - 1]) {
      throw new OptionRangeError(`${name}[${i}]`, b, `must be greater than the bound before it (${value[i - 1]})`);
    }
  });
  return [...value];
}

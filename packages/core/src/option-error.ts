import { show } from './show.js';

// A registered symbol, so the guard works across installed copies of @cbsuite/core.
const OPTION_BRAND = Symbol.for('@cbsuite/core:OptionError');

function message(option: string, value: unknown, reason: string, text: string | undefined): string {
  return text ?? `${option} ${reason}, got ${show(value)}`;
}

function brand(e: Error): void {
  Object.defineProperty(e, OPTION_BRAND, { value: true });
}

function hasBrand(value: unknown): boolean {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[OPTION_BRAND] === true;
}

/**
 * An option or argument of the wrong type (`null` included), or an unknown
 * field. `option` is its path as the user wrote it
 * (`serviceBreaker.coolingTimeoutMs`), `value` what it got and `reason` what
 * was wrong; nothing was changed.
 */
export class OptionTypeError extends TypeError {
  override readonly name = 'OptionTypeError';
  constructor(
    readonly option: string,
    readonly value: unknown,
    readonly reason: string,
    text?: string,
  ) {
    super(message(option, value, reason, text));
    brand(this);
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: subclasses keep ordinary instanceof
    if (this !== OptionTypeError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return hasBrand(value) && value instanceof TypeError;
  }
}

/**
 * An option or argument of the right type but out of range (NaN, infinite,
 * negative, not an integer, too large). `option` is its path as the user
 * wrote it and `value` what it got; nothing was changed.
 */
export class OptionRangeError extends RangeError {
  override readonly name = 'OptionRangeError';
  constructor(
    readonly option: string,
    readonly value: unknown,
    readonly reason: string,
    text?: string,
  ) {
    super(message(option, value, reason, text));
    brand(this);
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: subclasses keep ordinary instanceof
    if (this !== OptionRangeError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return hasBrand(value) && value instanceof RangeError;
  }
}

/** A refused option or argument. */
export type OptionError = OptionTypeError | OptionRangeError;

/** True when `err` is an {@link OptionTypeError} or {@link OptionRangeError} from any copy of @cbsuite/core. */
export function isOptionError(err: unknown): err is OptionError {
  return hasBrand(err);
}

import { checkInteger, checkKeys, checkNumber, OptionTypeError } from '@cbsuite/core';
import type { RPCInfo } from './rpc-info.js';

/**
 * Hedged requests for one method (Kitex's backup request, gRPC's hedging
 * policy): when an attempt has not answered after `delayMs`, another is sent
 * to an instance the call has not tried; the first answer wins and the
 * others are cancelled. Only unary methods marked `idempotent` are hedged.
 */
export interface HedgingOptions {
  /** Wait after the first attempt (and after each hedge) before the next hedge, ms. Required, >= 0. */
  readonly delayMs: number;
  /** Most attempts of a hedged call, the first included. Default 2, in [2, 5] (gRPC caps hedging at 5). */
  readonly maxAttempts?: number;
}

/** The suite option: one policy for every idempotent unary method, or a function of the method (undefined: not hedged). */
export type HedgingOption = HedgingOptions | ((ri: RPCInfo) => HedgingOptions | undefined);

/** Hedging options, validated, with defaults applied. */
export interface ResolvedHedging {
  readonly delayMs: number;
  readonly maxAttempts: number;
}

/** Validates one method's hedging options; errors name the field as `<path>.<field>`. */
export function resolveHedging(value: unknown, path = 'hedging'): ResolvedHedging {
  const o = checkKeys(path, value, ['delayMs', 'maxAttempts'], path);
  if (o.delayMs === undefined) throw new OptionTypeError(`${path}.delayMs`, undefined, 'is required');
  return {
    delayMs: checkNumber(`${path}.delayMs`, o.delayMs, 0, 2 ** 31 - 1),
    maxAttempts: o.maxAttempts === undefined ? 2 : checkInteger(`${path}.maxAttempts`, o.maxAttempts, 2, 5),
  };
}

/**
 * The suite's `hedging` option as a function of the method: an object is
 * validated now, a function's answer when a method is first called (by
 * {@link hedgingOf}).
 */
export function resolveHedgingOption(value: unknown): ((ri: RPCInfo) => unknown) | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'function') return value as (ri: RPCInfo) => unknown;
  const resolved = resolveHedging(value);
  return () => resolved;
}

/**
 * A method's hedging, from the suite's option: undefined when it is not
 * hedged. Throws the typed error of {@link resolveHedging}, naming the field
 * as `hedging(<method path>).<field>`, when the function answers a bad value.
 */
export function hedgingOf(option: (ri: RPCInfo) => unknown, ri: RPCInfo): ResolvedHedging | undefined {
  const v = option(ri);
  if (v === undefined) return undefined;
  return resolveHedging(v, `hedging(${ri.path})`);
}

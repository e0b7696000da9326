import { show } from '@cbsuite/core';

/**
 * Breaker settings of one key (Kitex's `CBConfig`). A key trips when, in its
 * window, `samples >= minSample && errorRate >= errRate`.
 */
export interface CBConfig {
  /** When false, calls of the key bypass the breaker: no check, no statistics. */
  readonly enable: boolean;
  /** Error rate in [0, 1] at which the key trips (inclusive). */
  readonly errRate: number;
  /** Calls the window must hold before the key can trip (inclusive). */
  readonly minSample: number;
}

/** Kitex's default: `{ enable: true, errRate: 0.5, minSample: 200 }`. */
export const DEFAULT_CB_CONFIG: CBConfig = Object.freeze({ enable: true, errRate: 0.5, minSample: 200 });

/** A copy of the default config (Kitex's `GetDefaultCBConfig`). */
export function getDefaultCBConfig(): CBConfig {
  return { ...DEFAULT_CB_CONFIG };
}

const BRAND = Symbol.for('@cbsuite/grpc-interceptor:CBConfigError');
const FIELDS = ['enable', 'errRate', 'minSample'] as const;

/**
 * A config (or its key) was refused. `field` is the path of what was wrong,
 * as the user wrote it (`defaultServiceCBConfig.errRate`, or `errRate` in an
 * update's argument), and `value` is what it got.
 */
export class CBConfigError extends Error {
  override readonly name = 'CBConfigError';
  constructor(
    readonly field: string,
    readonly value: unknown,
    reason: string,
  ) {
    super(`${field} ${reason}, got ${show(value)}`);
    Object.defineProperty(this, BRAND, { value: true });
  }
}

/** True when `err` is a {@link CBConfigError} from any copy of this package. */
export function isCBConfigError(err: unknown): err is CBConfigError {
  return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[BRAND] === true;
}

/**
 * Validates `value` as a (partial) CBConfig and merges it over `base`: fields
 * left out (`undefined`) keep `base`'s value; `null` is refused like any other
 * wrong type. Returns a frozen config, or throws a {@link CBConfigError}
 * naming the first bad field; `base` is never changed. `path` is where the
 * user wrote the config (an option such as `defaultServiceCBConfig`): errors
 * name the whole value by it, or `config`, and its fields under it.
 */
export function parseCBConfig(value: unknown, base: CBConfig = DEFAULT_CB_CONFIG, path?: string): CBConfig {
  const at = (field: string) => (path === undefined ? field : `${path}.${field}`);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new CBConfigError(path ?? 'config', value, 'must be an object with enable, errRate and minSample');
  }
  const v = value as Record<string, unknown>;
  for (const field of Object.keys(v)) {
    if (!(FIELDS as readonly string[]).includes(field)) {
      throw new CBConfigError(at(field), v[field], `is not a CBConfig field (known: ${FIELDS.join(', ')})`);
    }
  }
  const { enable = base.enable, errRate = base.errRate, minSample = base.minSample } = v;
  if (typeof enable !== 'boolean') throw new CBConfigError(at('enable'), enable, 'must be a boolean');
  if (typeof errRate !== 'number' || !(errRate >= 0 && errRate <= 1)) {
    throw new CBConfigError(at('errRate'), errRate, 'must be a number in [0, 1]');
  }
  if (typeof minSample !== 'number' || !Number.isSafeInteger(minSample) || minSample < 0) {
    throw new CBConfigError(at('minSample'), minSample, 'must be a non-negative integer');
  }
  return Object.freeze({ enable, errRate, minSample });
}

/** Field-wise equality (Kitex's `CBConfig.Equals`). */
export function cbConfigEquals(a: CBConfig, b: CBConfig): boolean {
  return a.enable === b.enable && a.errRate === b.errRate && a.minSample === b.minSample;
}

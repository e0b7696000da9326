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

/**
 * A config as Kitex's config centers publish it: the JSON field names of Go's
 * `circuitbreak.CBConfig` (`enable`, `err_rate`, `min_sample`).
 */
export interface KitexCBConfig {
  readonly enable?: boolean;
  readonly err_rate?: number;
  readonly min_sample?: number;
}

/**
 * What {@link parseCBConfig} and the suite's config methods take: a partial
 * {@link CBConfig}, a {@link KitexCBConfig}, or fields of both (each field
 * once).
 */
export type CBConfigInput = Partial<CBConfig> & KitexCBConfig;

const BRAND = Symbol.for('@cbsuite/grpc-interceptor:CBConfigError');

/** Each accepted field name, ours and Kitex's, and the field it sets. */
const FIELD_OF: Readonly<Record<string, keyof CBConfig>> = {
  enable: 'enable',
  errRate: 'errRate',
  err_rate: 'errRate',
  minSample: 'minSample',
  min_sample: 'minSample',
};
const KNOWN = 'enable, errRate (err_rate), minSample (min_sample)';

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
 *
 * Kitex's JSON field names are accepted too (`err_rate`, `min_sample`; see
 * {@link KitexCBConfig}), so a payload a config center publishes for Kitex
 * applies as is, and errors name a field as it was spelled. Unlike Go's
 * decoder, which sets a field the JSON leaves out to its zero value
 * (`enable: false`), a field left out keeps `base`'s value. Unknown fields,
 * and a field given under both names, are refused.
 */
export function parseCBConfig(value: unknown, base: CBConfig = DEFAULT_CB_CONFIG, path?: string): CBConfig {
  const at = (field: string) => (path === undefined ? field : `${path}.${field}`);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new CBConfigError(path ?? 'config', value, `must be an object with ${KNOWN}`);
  }
  const v = value as Record<string, unknown>;
  const given: Partial<Record<keyof CBConfig, unknown>> = {};
  const nameOf: Partial<Record<keyof CBConfig, string>> = {};
  for (const name of Object.keys(v)) {
    const field = Object.hasOwn(FIELD_OF, name) ? FIELD_OF[name] : undefined;
    if (field === undefined) throw new CBConfigError(at(name), v[name], `is not a CBConfig field (known: ${KNOWN})`);
    if (v[name] === undefined) continue;
    const other = nameOf[field];
    if (other !== undefined) throw new CBConfigError(at(name), v[name], `sets ${field}, which ${other} sets already`);
    given[field] = v[name];
    nameOf[field] = name;
  }
  const named = (field: keyof CBConfig) => at(nameOf[field] ?? field);
  const { enable = base.enable, errRate = base.errRate, minSample = base.minSample } = given;
  if (typeof enable !== 'boolean') throw new CBConfigError(named('enable'), enable, 'must be a boolean');
  if (typeof errRate !== 'number' || !(errRate >= 0 && errRate <= 1)) {
    throw new CBConfigError(named('errRate'), errRate, 'must be a number in [0, 1]');
  }
  if (typeof minSample !== 'number' || !Number.isSafeInteger(minSample) || minSample < 0) {
    throw new CBConfigError(named('minSample'), minSample, 'must be a non-negative integer');
  }
  return Object.freeze({ enable, errRate, minSample });
}

/** Field-wise equality (Kitex's `CBConfig.Equals`). */
export function cbConfigEquals(a: CBConfig, b: CBConfig): boolean {
  return a.enable === b.enable && a.errRate === b.errRate && a.minSample === b.minSample;
}

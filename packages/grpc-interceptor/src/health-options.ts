import { checkKeys, checkNumber, OptionTypeError } from '@cbsuite/core';

/**
 * Health-checked probes at the instance level: a half-open instance is probed
 * with a `grpc.health.v1.Health/Check` call instead of a caller's call.
 * Needs servers that implement the standard health service; an instance
 * answering `UNIMPLEMENTED` is probed with callers' calls, as without it.
 */
export interface HealthCheckOptions {
  /** The service name the check asks about; `''` asks about the whole server. Required. */
  readonly service: string;
  /** How long a check may take before it counts as a failed probe, in ms. Default 1_000. */
  readonly timeoutMs?: number;
}

export interface ResolvedHealthCheck {
  readonly service: string;
  readonly timeoutMs: number;
}

/** Validates `healthCheck`; errors name the path written (`healthCheck.timeoutMs`). */
export function resolveHealthCheck(name: string, value: unknown): ResolvedHealthCheck | undefined {
  if (value === undefined) return undefined;
  const o = checkKeys(name, value, ['service', 'timeoutMs'], name) as Partial<HealthCheckOptions>;
  if (typeof o.service !== 'string') {
    throw new OptionTypeError(
      `${name}.service`,
      o.service,
      "must be a string (the health service's name, '' for the server)",
    );
  }
  const timeoutMs = o.timeoutMs === undefined ? 1_000 : checkNumber(`${name}.timeoutMs`, o.timeoutMs, 1, 3_600_000);
  return { service: o.service, timeoutMs };
}

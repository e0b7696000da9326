import type * as OtelApi from '@opentelemetry/api';
import { loadPeer } from './missing-peer-error.js';

/** The entry point, as errors name it. */
export const OTEL_ENTRY = '@cbsuite/grpc-interceptor/otel';
/** The @opentelemetry/api versions supported (the optional peer dependency's range). */
export const OTEL_API_RANGE = '>=1.7.0 <2';

/**
 * `@opentelemetry/api`, loaded on first use, or a `MissingPeerError` naming
 * it. Every copy of the API shares the providers registered globally, so the
 * copy loaded here sees the tracer and meter providers the application set.
 */
export function otelApi(): typeof OtelApi {
  return loadPeer<typeof OtelApi>('@opentelemetry/api', OTEL_API_RANGE, OTEL_ENTRY);
}

/** The OTel attributes of Prometheus labels: each under `cbsuite.`. */
export function attributesOf(labels: Readonly<Record<string, string>>): OtelApi.Attributes {
  const out: OtelApi.Attributes = {};
  for (const k in labels) out[`cbsuite.${k}`] = labels[k];
  return out;
}

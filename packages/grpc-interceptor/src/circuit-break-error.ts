import { Metadata, status as Status, type StatusObject } from '@grpc/grpc-js';
import type { Level } from './classify.js';

/** Trailer on a call a breaker rejected: the level that rejected it, `service` or `instance`. */
export const CIRCUIT_BREAK_TRAILER = 'x-cbsuite-circuitbreak';
/** Trailer on a call a breaker rejected: the breaker key, URI-encoded (keys may hold any character). */
export const CIRCUIT_BREAK_KEY_TRAILER = 'x-cbsuite-key';

/** Kitex's `ErrCircuitBreak` text. */
export const CIRCUIT_BREAK_DETAILS_PREFIX = 'forbidden by circuitbreaker';

/** The status a rejected call ends with: `UNAVAILABLE`, Kitex's text, and the marker trailers. */
export function circuitBreakStatus(level: Level, key: string | undefined): StatusObject {
  const metadata = new Metadata();
  metadata.set(CIRCUIT_BREAK_TRAILER, level);
  if (key !== undefined) metadata.set(CIRCUIT_BREAK_KEY_TRAILER, encodeURIComponent(key));
  return { code: Status.UNAVAILABLE, details: `${CIRCUIT_BREAK_DETAILS_PREFIX}: ${level} circuitbreak`, metadata };
}

function markerOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { code, metadata } = err as { code?: unknown; metadata?: { get?: (key: string) => unknown[] } };
  if (code !== Status.UNAVAILABLE || typeof metadata?.get !== 'function') return undefined;
  const v = metadata.get(CIRCUIT_BREAK_TRAILER)[0];
  return v === 'service' || v === 'instance' ? v : undefined;
}

/** What a call a breaker rejected ends with (a `ServiceError` is one, with an `Error` besides). */
export interface CircuitBreakStatus extends StatusObject {
  readonly code: typeof Status.UNAVAILABLE;
}

/**
 * True when a call was not sent because a breaker rejected it: the error of a
 * unary callback, the `error` event of a stream, or a status object. Works
 * across copies of grpc-js (it reads the code and the marker trailer).
 */
export function isCircuitBreakError(err: unknown): err is CircuitBreakStatus {
  return markerOf(err) !== undefined;
}

/** Which breaker rejected the call, or undefined when it is not a circuit-break error. */
export function circuitBreakLevel(err: unknown): Level | undefined {
  return markerOf(err) as Level | undefined;
}

/** The key of the breaker that rejected the call, when it named one. */
export function circuitBreakKey(err: unknown): string | undefined {
  if (markerOf(err) === undefined) return undefined;
  const v = (err as { metadata: Metadata }).metadata.get(CIRCUIT_BREAK_KEY_TRAILER)[0];
  if (typeof v !== 'string') return undefined;
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
}

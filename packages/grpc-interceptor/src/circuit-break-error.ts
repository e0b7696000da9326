import { Metadata, status as Status, type StatusObject } from '@grpc/grpc-js';
import type { Level } from './classify.js';

/** Trailer on a call a breaker of this process rejected: the level that rejected it, `service` or `instance`. */
export const CIRCUIT_BREAK_TRAILER = 'x-cbsuite-circuitbreak';
/** Trailer on a call a breaker of this process rejected: the breaker key, URI-encoded (keys may hold any character). */
export const CIRCUIT_BREAK_KEY_TRAILER = 'x-cbsuite-key';

/** Kitex's `ErrCircuitBreak` text. */
export const CIRCUIT_BREAK_DETAILS_PREFIX = 'forbidden by circuitbreaker';

// What recognises a rejection: a property of the rejection's Metadata object,
// which grpc-js hands on to the caller's error and status as is. It never
// goes on the wire, so no server can send it. The symbol is registered, so
// every installed copy of this package reads it.
const LOCAL_MARK = Symbol.for('@cbsuite/grpc-interceptor:circuitBreak');

interface LocalMark {
  readonly level: Level;
  readonly key: string | undefined;
}

/**
 * The status a rejected call ends with: `UNAVAILABLE`, Kitex's text, the
 * marker trailers for people reading the metadata, and the mark that
 * {@link isCircuitBreakError} reads.
 */
export function circuitBreakStatus(level: Level, key: string | undefined): StatusObject {
  const metadata = new Metadata();
  metadata.set(CIRCUIT_BREAK_TRAILER, level);
  if (key !== undefined) metadata.set(CIRCUIT_BREAK_KEY_TRAILER, encodeURIComponent(key));
  const mark: LocalMark = Object.freeze({ level, key });
  Object.defineProperty(metadata, LOCAL_MARK, { value: mark });
  return { code: Status.UNAVAILABLE, details: `${CIRCUIT_BREAK_DETAILS_PREFIX}: ${level} circuitbreak`, metadata };
}

function markOf(err: unknown): LocalMark | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { code, metadata } = err as { code?: unknown; metadata?: unknown };
  if (code !== Status.UNAVAILABLE || typeof metadata !== 'object' || metadata === null) return undefined;
  const mark = (metadata as Record<symbol, unknown>)[LOCAL_MARK] as Partial<LocalMark> | undefined;
  if (typeof mark !== 'object' || mark === null) return undefined;
  return mark.level === 'service' || mark.level === 'instance' ? (mark as LocalMark) : undefined;
}

/**
 * Takes the marker trailers off a status this process did not make: a
 * server's claim that a breaker rejected the call is not believed, and is
 * not passed on. The status's details are left as the server sent them.
 */
export function stripForgedMarkers(status: StatusObject): void {
  const md = status.metadata;
  if (status.code === Status.OK || md === undefined || markOf(status) !== undefined) return;
  if (md.get(CIRCUIT_BREAK_TRAILER).length > 0) md.remove(CIRCUIT_BREAK_TRAILER);
  if (md.get(CIRCUIT_BREAK_KEY_TRAILER).length > 0) md.remove(CIRCUIT_BREAK_KEY_TRAILER);
}

/** What a call a breaker rejected ends with (a `ServiceError` is one, with an `Error` besides). */
export interface CircuitBreakStatus extends StatusObject {
  readonly code: typeof Status.UNAVAILABLE;
}

/**
 * True when a breaker of this process rejected the call, so it was not sent:
 * the error of a unary callback, the `error` event of a stream, or a status
 * object. Works across installed copies of this package and of grpc-js. A
 * server's error is never one, whatever it carries: a middle tier whose own
 * breaker rejected its call and passed the error on failed the call it
 * received (its caller sees `UNAVAILABLE` with Kitex's text as details).
 */
export function isCircuitBreakError(err: unknown): err is CircuitBreakStatus {
  return markOf(err) !== undefined;
}

/** Which breaker of this process rejected the call, or undefined when none did. */
export function circuitBreakLevel(err: unknown): Level | undefined {
  return markOf(err)?.level;
}

/** The key of the breaker of this process that rejected the call, when it named one. */
export function circuitBreakKey(err: unknown): string | undefined {
  return markOf(err)?.key;
}

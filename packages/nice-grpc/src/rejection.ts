import type { Level, ShedReason } from '@cbsuite/grpc-interceptor';
import type { StatusObject } from '@grpc/grpc-js';
import { ClientError, type Status } from 'nice-grpc-common';

// What recognises a rejection of this process: a property of the ClientError
// object, set where it is made, never on the wire, so no server can send it.
// The symbols are registered, so every installed copy of this package reads them.
const BREAK_MARK = Symbol.for('@cbsuite/nice-grpc:circuitBreak');
const SHED_MARK = Symbol.for('@cbsuite/nice-grpc:loadShed');

const UNAVAILABLE = 14;
const RESOURCE_EXHAUSTED = 8;

interface BreakMark {
  readonly level: Level;
  readonly key: string | undefined;
}

interface ShedMark {
  readonly reason: ShedReason;
  readonly key: string;
}

/**
 * The `ClientError` of a call a breaker of this process rejected: `status`'s
 * code (`UNAVAILABLE`) and details (Kitex's `forbidden by circuitbreaker: …`),
 * and the mark {@link isCircuitBreakError} reads.
 */
export function circuitBreakClientError(
  path: string,
  status: StatusObject,
  level: Level,
  key: string | undefined,
): ClientError {
  const err = new ClientError(path, status.code as number as Status, status.details);
  Object.defineProperty(err, BREAK_MARK, { value: Object.freeze({ level, key }) });
  return err;
}

/** The `ClientError` of a call this process shed: `RESOURCE_EXHAUSTED` and the mark {@link isLoadShedError} reads. */
export function loadShedClientError(path: string, status: StatusObject, reason: ShedReason, key: string): ClientError {
  const err = new ClientError(path, status.code as number as Status, status.details);
  Object.defineProperty(err, SHED_MARK, { value: Object.freeze({ reason, key }) });
  return err;
}

function breakMarkOf(err: unknown): BreakMark | undefined {
  if (typeof err !== 'object' || err === null || (err as { code?: unknown }).code !== UNAVAILABLE) return undefined;
  const mark = (err as Record<symbol, unknown>)[BREAK_MARK] as Partial<BreakMark> | undefined;
  if (typeof mark !== 'object' || mark === null) return undefined;
  return mark.level === 'service' || mark.level === 'instance' ? (mark as BreakMark) : undefined;
}

function shedMarkOf(err: unknown): ShedMark | undefined {
  if (typeof err !== 'object' || err === null || (err as { code?: unknown }).code !== RESOURCE_EXHAUSTED) {
    return undefined;
  }
  const mark = (err as Record<symbol, unknown>)[SHED_MARK] as Partial<ShedMark> | undefined;
  if (typeof mark !== 'object' || mark === null) return undefined;
  const ok = mark.reason === 'latency' || mark.reason === 'adaptive' || mark.reason === 'concurrency';
  return ok ? (mark as ShedMark) : undefined;
}

/**
 * True when a breaker of this process rejected the call, so it was not sent:
 * the `ClientError` a unary call throws, or a stream's iteration throws, when
 * it went through {@link cbsuiteMiddleware}. The service level's rejections,
 * and the instance level's (every instance tripped) are both recognised. A
 * server's error is never one, whatever its trailers say.
 */
export function isCircuitBreakError(err: unknown): err is ClientError {
  return breakMarkOf(err) !== undefined;
}

/** Which breaker of this process rejected the call, or undefined when none did. */
export function circuitBreakLevel(err: unknown): Level | undefined {
  return breakMarkOf(err)?.level;
}

/** The key of the breaker of this process that rejected the call, when it named one (the service level does). */
export function circuitBreakKey(err: unknown): string | undefined {
  return breakMarkOf(err)?.key;
}

/** True when this process shed the call (`serviceShedding`); it was not sent. */
export function isLoadShedError(err: unknown): err is ClientError {
  return shedMarkOf(err) !== undefined;
}

/** Why this process shed the call, or undefined when it did not. */
export function loadShedReason(err: unknown): ShedReason | undefined {
  return shedMarkOf(err)?.reason;
}

import { Metadata, status as Status, type StatusObject } from '@grpc/grpc-js';

/** Why a call was shed: the latency throttle, the adaptive throttle, or the concurrency limit. */
export type ShedReason = 'latency' | 'adaptive' | 'concurrency';

/** Trailer on a call this process shed: the reason. */
export const LOAD_SHED_TRAILER = 'x-cbsuite-shed';

/** The details of a shed call start with this. */
export const LOAD_SHED_DETAILS_PREFIX = 'shed by cbsuite';

// As for breaker rejections (circuit-break-error.ts): a property of the
// status's Metadata object, never on the wire, read through a registered
// symbol so every installed copy of this package recognises it.
const LOCAL_MARK = Symbol.for('@cbsuite/grpc-interceptor:loadShed');

interface LocalMark {
  readonly reason: ShedReason;
  readonly key: string;
}

/**
 * The status a shed call ends with: `RESOURCE_EXHAUSTED` (this process's own
 * capacity for the dependency ran out; unlike a breaker's `UNAVAILABLE`, a
 * `retryPolicy` does not retry it by default), the reason in the details and
 * a trailer, and the mark {@link isLoadShedError} reads.
 */
export function loadShedStatus(reason: ShedReason, key: string): StatusObject {
  const metadata = new Metadata();
  metadata.set(LOAD_SHED_TRAILER, reason);
  Object.defineProperty(metadata, LOCAL_MARK, { value: Object.freeze({ reason, key }) });
  return { code: Status.RESOURCE_EXHAUSTED, details: `${LOAD_SHED_DETAILS_PREFIX}: ${reason} (${key})`, metadata };
}

function markOf(err: unknown): LocalMark | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { code, metadata } = err as { code?: unknown; metadata?: unknown };
  if (code !== Status.RESOURCE_EXHAUSTED || typeof metadata !== 'object' || metadata === null) return undefined;
  const mark = (metadata as Record<symbol, unknown>)[LOCAL_MARK] as Partial<LocalMark> | undefined;
  if (typeof mark !== 'object' || mark === null) return undefined;
  const ok = mark.reason === 'latency' || mark.reason === 'adaptive' || mark.reason === 'concurrency';
  return ok ? (mark as LocalMark) : undefined;
}

/**
 * True when this process shed the call (it was not sent): the error of a
 * unary callback, the `error` event of a stream, or a status object. A
 * breaker's rejection is not one (see `isCircuitBreakError`), nor is any
 * error a server sent, whatever its trailers say.
 */
export function isLoadShedError(err: unknown): boolean {
  return markOf(err) !== undefined;
}

/** Why this process shed the call, or undefined when it did not. */
export function loadShedReason(err: unknown): ShedReason | undefined {
  return markOf(err)?.reason;
}

/** Takes a shed trailer off a status this process did not make: a server's claim is not believed. */
export function stripForgedShedMarker(status: StatusObject): void {
  const md = status.metadata;
  // Every call ends here: an OK (nothing to recognise in it) costs no trailer lookup.
  if (status.code === Status.OK || md === undefined || markOf(status) !== undefined) return;
  if (md.get(LOAD_SHED_TRAILER).length > 0) md.remove(LOAD_SHED_TRAILER);
}

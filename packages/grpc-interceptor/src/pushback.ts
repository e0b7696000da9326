import type { StatusObject } from '@grpc/grpc-js';

/** The trailer by which a server asks its clients to wait before retrying (gRFC A6). */
export const PUSHBACK_TRAILER = 'grpc-retry-pushback-ms';

/**
 * A status's `grpc-retry-pushback-ms` (an ASCII int32, gRFC A6): undefined
 * when absent, the wait in ms when non-negative, -1 (no retry) when negative,
 * malformed or out of the int32 range.
 */
export function pushbackMsOf(status: StatusObject): number | undefined {
  const values = status.metadata?.get(PUSHBACK_TRAILER);
  if (values === undefined || values.length === 0) return undefined;
  const v = values[0];
  if (typeof v !== 'string' || !/^-?(0|[1-9][0-9]{0,9})$/.test(v)) return -1;
  const n = Number(v);
  return n < 0 || n > 2 ** 31 - 1 ? -1 : n;
}

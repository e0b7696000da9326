import { ErrorType, OptionTypeError } from '@cbsuite/core';
import { Metadata, status as Status, type StatusObject } from '@grpc/grpc-js';
import type { RPCInfo } from './rpc-info.js';

/** Which breaker an outcome is for. */
export type Level = 'service' | 'instance';

/** What a classifier knows about the call besides its status. */
export interface OutcomeContext {
  readonly level: Level;
  /** The breaker key: the service key, or the instance address. */
  readonly key: string;
  readonly rpcInfo: RPCInfo;
  /** True when the caller cancelled the call itself (`call.cancel()`, or a parent call's cancel). */
  readonly cancelledByCaller: boolean;
  /**
   * True when a server sent the status (its trailers, or a trailers-only
   * response); false when the transport or grpc-js made it (a refused or
   * reset stream, a lost connection, a cancel or deadline here, a failed
   * resolver). The suite knows it from what the picker saw of the attempt's
   * stream; where it did not see the stream, a status after response headers
   * or with a `content-type` counts as the server's. Undefined when not
   * known: then only a trailers-only response is recognised, by its
   * `content-type`.
   */
  readonly fromServer?: boolean;
}

/**
 * Decides how a finished call counts (Kitex's `GetErrorTypeFunc`, given the
 * gRPC status instead of a Go error).
 */
export type GetErrorTypeFunc = (status: StatusObject, ctx: OutcomeContext) => ErrorType;

/**
 * The trailer a server sets to say how one of its errors counts:
 * `ignorable`, `timeout`, `failure` or `success` (Kitex's `WrapErrorWithType`).
 */
export const ERROR_TYPE_TRAILER = 'x-cbsuite-error-type';

const TYPE_NAMES: Readonly<Record<string, ErrorType>> = {
  ignorable: ErrorType.Ignorable,
  timeout: ErrorType.Timeout,
  failure: ErrorType.Failure,
  success: ErrorType.Success,
};
const NAME_OF = ['ignorable', 'timeout', 'failure', 'success'] as const;

/**
 * Trailing metadata for a server's error that tells cbsuite clients how to
 * count it, for example a business error that says nothing of the service's
 * health: `callback({ code: status.NOT_FOUND, details, metadata: errorTypeTrailer(ErrorType.Ignorable) })`.
 */
export function errorTypeTrailer(type: ErrorType, metadata: Metadata = new Metadata()): Metadata {
  const name = NAME_OF[type];
  if (name === undefined) throw new TypeError(`type must be an ErrorType (0-3), got ${String(type)}`);
  metadata.set(ERROR_TYPE_TRAILER, name);
  return metadata;
}

/** The error type a server marked in `status`'s trailers, if any. */
export function markedErrorType(status: StatusObject): ErrorType | undefined {
  const values = status.metadata?.get(ERROR_TYPE_TRAILER);
  if (values === undefined || values.length === 0) return undefined;
  const v = values[0];
  return typeof v === 'string' ? TYPE_NAMES[v.toLowerCase()] : undefined;
}

/**
 * Status codes that say the service is unwell; every other non-OK code is an
 * answer from a healthy service (`INVALID_ARGUMENT`, `NOT_FOUND`, ...) and
 * counts as a success.
 */
export const SERVICE_FAILURE_CODES: ReadonlySet<Status> = new Set([
  Status.UNAVAILABLE,
  Status.INTERNAL,
  Status.UNKNOWN,
  Status.DATA_LOSS,
  Status.RESOURCE_EXHAUSTED,
  Status.UNIMPLEMENTED,
]);

/**
 * The default service-level classifier (Kitex's `ErrorTypeOnServiceLevel`):
 *
 * | status | counts as |
 * | --- | --- |
 * | `OK` | success |
 * | a resolver failure grpc-js reports (see {@link isServiceDiscoveryStatus}) | ignorable (Kitex's `ErrServiceDiscovery`) |
 * | a server's `x-cbsuite-error-type` trailer | what it says |
 * | `CANCELLED` the server's transport sent (a reset stream, see {@link isTransportCancel}) | failure |
 * | `CANCELLED` | ignorable: the caller (or its parent call) gave up; Kitex counts it as a timeout |
 * | `DEADLINE_EXCEEDED` | timeout |
 * | `UNAVAILABLE`, `INTERNAL`, `UNKNOWN`, `DATA_LOSS`, `RESOURCE_EXHAUSTED`, `UNIMPLEMENTED` | failure |
 * | anything else | success: an answer from a healthy service |
 *
 * An instance-level rejection (every instance tripped) arrives as
 * `UNAVAILABLE` and so counts as a service failure, as in Kitex.
 */
export const errorTypeOnServiceLevel: GetErrorTypeFunc = (status, ctx) => {
  const code = status.code;
  if (code === Status.OK) return ErrorType.Success;
  if (isServiceDiscoveryStatus(status, ctx?.fromServer)) return ErrorType.Ignorable;
  const marked = markedErrorType(status);
  if (marked !== undefined) return marked;
  if (isTransportCancel(status, ctx)) return ErrorType.Failure;
  return errorTypeByStatusCode(code);
};

/**
 * The service-level table alone, ignoring a server's error-type trailer: for
 * clients that do not trust their servers' marks.
 */
export const errorTypeByStatusCode = (code: Status): ErrorType => {
  if (code === Status.OK) return ErrorType.Success;
  if (code === Status.CANCELLED) return ErrorType.Ignorable;
  if (code === Status.DEADLINE_EXCEEDED) return ErrorType.Timeout;
  return SERVICE_FAILURE_CODES.has(code) ? ErrorType.Failure : ErrorType.Success;
};

// What grpc-js's resolvers report, as UNAVAILABLE, when they fail (the dns
// resolver's lookup or parse, the ipv4/ipv6 resolver's parse).
const DISCOVERY =
  /^(Name resolution failed for target |Failed to parse (DNS|ipv4|ipv6) address |Unrecognized scheme \S* in IP resolver)/;

/**
 * True when a call failed because the channel's resolver failed (Kitex's
 * `ErrServiceDiscovery`): `UNAVAILABLE` with a grpc-js resolver's text, made
 * by grpc-js without hearing from a server. The same text sent by a server
 * (a middle tier passing on its own resolver failure) is not one. A resolver
 * that succeeds with no address is not one either: grpc-js then reports "No
 * addresses resolved", which counts as a failure, like Kitex's
 * `ErrNoMoreInstance`. Errors of a custom resolver keep their own text; a
 * `serviceGetErrorType` can use this function and add them.
 */
export function isServiceDiscoveryStatus(
  status: Pick<StatusObject, 'code' | 'details' | 'metadata'>,
  fromServer?: boolean,
): boolean {
  if (status.code !== Status.UNAVAILABLE || !DISCOVERY.test(status.details)) return false;
  return fromServer === undefined ? !carriesContentType(status) : !fromServer;
}

/** A server's trailers-only response carries its content-type; a status grpc-js made has none. */
export function carriesContentType(status: Pick<StatusObject, 'metadata'>): boolean {
  return (status.metadata?.get('content-type').length ?? 0) > 0;
}

// What grpc-js reports, as UNAVAILABLE, when the transport rather than the
// server application ended an attempt: a dropped or reset connection, a
// refused stream, a failed write, a proxy in front of the instance saying so.
// Read only when nothing says whether a server sent the status.
const CONNECTION_LEVEL =
  /^(Connection dropped|Stream refused by server|Write error|Write failed|Received HTTP status code 50[234])|\b(ECONNRESET|ECONNREFUSED|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENETUNREACH|ECONNABORTED)\b/;

/**
 * True when an attempt ended with a connection-level error (Kitex's
 * `ErrGetConnection`): `UNAVAILABLE` made by the transport, not sent by a
 * server. `fromServer` is what the transport saw (the suite knows it for
 * every attempt): a status a server sent is never connection-level, whatever
 * its text, and an `UNAVAILABLE` the transport made always is. Only when it
 * is not known (undefined) are grpc-js's texts read, and then only on a
 * status without a server's `content-type`.
 */
export function isConnectionLevelStatus(
  status: Pick<StatusObject, 'code' | 'details' | 'metadata'>,
  fromServer?: boolean,
): boolean {
  if (status.code !== Status.UNAVAILABLE || fromServer === true) return false;
  if (fromServer === false) return true;
  return CONNECTION_LEVEL.test(status.details) && !carriesContentType(status);
}

/**
 * True when grpc-js's text says the server's HTTP/2 layer refused the
 * stream, and no server sent the status (`fromServer` not true, no
 * `content-type`). The suite itself decides from the stream's reset code.
 */
export function isRefusedStatus(
  status: Pick<StatusObject, 'code' | 'details' | 'metadata'>,
  fromServer?: boolean,
): boolean {
  if (status.code !== Status.UNAVAILABLE || fromServer === true || carriesContentType(status)) return false;
  return status.details === 'Stream refused by server';
}

/**
 * True when a `CANCELLED` was sent by the server or its transport (a reset
 * stream, as a grpc-js server's forced shutdown sends), not by this caller:
 * `fromServer` false (the transport made the status) and the caller did not
 * cancel. Unknown facts (undefined) mean the caller's own.
 */
export function isTransportCancel(
  status: Pick<StatusObject, 'code'>,
  ctx: Pick<OutcomeContext, 'cancelledByCaller' | 'fromServer'> | undefined,
): boolean {
  return status.code === Status.CANCELLED && ctx?.fromServer === false && ctx.cancelledByCaller === false;
}

/**
 * The default instance-level classifier (Kitex's `ErrorTypeOnInstanceLevel`),
 * per attempt: connection-level errors are failures, and so is a `CANCELLED`
 * the server's transport sent (a reset stream); a `CANCELLED` of the caller
 * is ignorable (the caller, a parent call or a hedging loser gave up);
 * everything else is a success. Timeouts and errors sent by the server
 * application say more about the request than about the instance, so by
 * default they do not count against it; see {@link instanceErrorTypeWithCodes}.
 */
export const errorTypeOnInstanceLevel: GetErrorTypeFunc = (status, ctx) => {
  if (status.code === Status.OK) return ErrorType.Success;
  if (status.code === Status.CANCELLED) return isTransportCancel(status, ctx) ? ErrorType.Failure : ErrorType.Ignorable;
  return isConnectionLevelStatus(status, ctx?.fromServer) ? ErrorType.Failure : ErrorType.Success;
};

/** Status codes a server can return that may be made to count against the instance. */
export type InstanceFailureCode = 'UNAVAILABLE' | 'RESOURCE_EXHAUSTED' | 'DEADLINE_EXCEEDED';

/**
 * The instance-level classifier plus server-returned codes that count against
 * the instance: `UNAVAILABLE` and `RESOURCE_EXHAUSTED` as failures,
 * `DEADLINE_EXCEEDED` (sent by the server or hit by the attempt) as a timeout.
 * A slow or overloaded instance is the commonest single-instance fault.
 */
export function instanceErrorTypeWithCodes(codes: readonly InstanceFailureCode[]): GetErrorTypeFunc {
  const set = new Set<Status>();
  codes.forEach((c, i) => {
    if (c !== 'UNAVAILABLE' && c !== 'RESOURCE_EXHAUSTED' && c !== 'DEADLINE_EXCEEDED') {
      const reason = 'must be UNAVAILABLE, RESOURCE_EXHAUSTED or DEADLINE_EXCEEDED';
      throw new OptionTypeError(`instanceFailureCodes[${i}]`, c, reason);
    }
    set.add(Status[c]);
  });
  return (status, ctx) => {
    if (set.has(status.code)) return status.code === Status.DEADLINE_EXCEEDED ? ErrorType.Timeout : ErrorType.Failure;
    return errorTypeOnInstanceLevel(status, ctx);
  };
}

/**
 * Asks `original` first and `custom` only when `original` says success
 * (Kitex's `WrapErrorTypeFunc`): a custom classifier can add failures but
 * cannot hide the ones the original finds.
 */
export function wrapErrorTypeFunc(custom: GetErrorTypeFunc, original: GetErrorTypeFunc): GetErrorTypeFunc {
  return (status, ctx) => {
    const t = original(status, ctx);
    return t !== ErrorType.Success ? t : custom(status, ctx);
  };
}

import { AsyncLocalStorage } from 'node:async_hooks';
import type { Metadata, UntypedServiceImplementation } from '@grpc/grpc-js';

/**
 * The header a suite puts on every attempt after the first of a call (its
 * value: the retry's number), and on every call made while handling such an
 * attempt: Kitex's `RetryReq` persistent metainfo, for chain stop.
 */
export const RETRY_HEADER = 'x-cbsuite-retry';

const retried = new AsyncLocalStorage<boolean>();

/**
 * Whether the code running now handles a request that is a retry, or was
 * sent while handling one (Kitex's `IsRemoteRetryRequest`). Set by
 * {@link chainStopHandlers} or {@link runInRequest}; a suite's calls made
 * while it is true are not retried (chain stop) and carry the header on.
 */
export function inRetriedRequest(): boolean {
  return retried.getStore() === true;
}

/** Whether a request's metadata says it is a retry. */
export function isRetriedRequest(metadata: Metadata | undefined): boolean {
  return (metadata?.get(RETRY_HEADER).length ?? 0) > 0;
}

/**
 * Runs `fn` as the handling of a request with `metadata`: calls made by a
 * suite inside it (and in the work it starts) see {@link inRetriedRequest}.
 */
export function runInRequest<T>(metadata: Metadata | undefined, fn: () => T): T {
  return retried.run(isRetriedRequest(metadata), fn);
}

/**
 * Wraps a grpc-js service implementation so that each handler runs in its
 * request's retry context (chain stop): a suite called while handling a
 * retried request does not retry its own calls, so retries do not multiply
 * down a chain of services. `server.addService(def, chainStopHandlers(impl))`.
 */
export function chainStopHandlers<T extends UntypedServiceImplementation>(impl: T): T {
  const out: UntypedServiceImplementation = {};
  for (const [name, handler] of Object.entries(impl)) {
    if (typeof handler !== 'function') {
      out[name] = handler;
      continue;
    }
    const h = handler as (call: { metadata?: Metadata }, ...rest: unknown[]) => void;
    out[name] = ((call: { metadata?: Metadata }, ...rest: unknown[]) =>
      runInRequest(call.metadata, () => h(call, ...rest))) as never;
  }
  return out as T;
}

// The one door from other client libraries' adapters (@cbsuite/nice-grpc)
// into a CBSuite, published as the `@cbsuite/grpc-interceptor/internals`
// subpath. Not a stable API: it follows this package's internals and may
// change in any release; an adapter pins this package as a peer dependency.
import type { CallRegistry } from './call-registry.js';
import type { RetryControl } from './retry-control.js';
import type { ServiceLevel } from './service-level.js';

export type { BreakerLevel } from './breaker-level.js';
export type { CallRegistry, CallState } from './call-registry.js';
export { newAttemptTransport, reachOf, sentByServer } from './call-registry.js';
export { circuitBreakStatus } from './circuit-break-error.js';
export { loadShedStatus } from './load-shed-error.js';
export type { LoadShedder, ShedTicket } from './load-shedder.js';
export type { CallFacts, RetryControl } from './retry-control.js';
export { type AttemptFacts, deadlineMsOf, shouldRetry } from './retry-rule.js';
export type { RPCInfo } from './rpc-info.js';
export type { ServiceLevel } from './service-level.js';

/**
 * The property of a CBSuite holding its {@link SuiteInternals}: non-enumerable,
 * under a registered symbol, so every installed copy of this package finds it.
 */
export const SUITE_INTERNALS: unique symbol = Symbol.for('@cbsuite/grpc-interceptor:internals');

/** What an adapter needs to run a suite's service level outside the grpc-js interceptor. */
export interface SuiteInternals {
  /**
   * The service level: `keyOf(path)` (the suite's key of a method path),
   * `level` (its BreakerLevel: `breakerFor`, `admit`, `record`, `fault`,
   * `latencyClock`), `refusal` (set while the suite is misconfigured) and
   * `shedder` (the `serviceShedding`, if set).
   */
  readonly service: ServiceLevel;
  /** The calls the instance level tracks: `begin`, `headerValue` (for CALL_ID_HEADER), `heard`, `retried`, `end`. */
  readonly registry: CallRegistry;
  /** The suite's retry decisions (budget, backoff, pushback, retry stop, chain stop): `decide`, `heard`. */
  readonly retries: RetryControl;
}

/** Puts `internals` on `suite`, once, out of sight of enumeration and JSON. */
export function attachInternals(suite: object, internals: SuiteInternals): void {
  Object.defineProperty(suite, SUITE_INTERNALS, { value: Object.freeze({ ...internals }), enumerable: false });
}

/**
 * The internals of a CBSuite.
 * @throws TypeError naming `cbs` when it is not a CBSuite of this package (any installed copy).
 */
export function suiteInternals(cbs: unknown): SuiteInternals {
  const internals =
    typeof cbs === 'object' && cbs !== null
      ? ((cbs as Record<symbol, unknown>)[SUITE_INTERNALS] as SuiteInternals | undefined)
      : undefined;
  if (internals === undefined || typeof internals !== 'object') {
    throw new TypeError(`cbs must be a CBSuite of @cbsuite/grpc-interceptor, got ${describe(cbs)}`);
  }
  return internals;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v !== 'object') return typeof v;
  return `an object (${v.constructor?.name ?? 'no constructor'})`;
}

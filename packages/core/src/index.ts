// @cbsuite/core: the breaker engine. No runtime dependencies, no timers.

export type { BackoffFunc, ExponentialBackoffOptions } from './backoff.js';
export { exponentialBackoff } from './backoff.js';
export type {
  BreakerStateChangeHandler,
  Executable,
  ExecuteOptions,
  KeyedStateChangeHandler,
  Permit,
  SignalledExecutable,
  SignalledExecuteOptions,
  TransitionCause,
  TransitionInfo,
} from './breaker.js';
export { Breaker, NO_PERMIT, PERMIT } from './breaker.js';
export type { Clock } from './clock.js';
export { loopClock, systemClock } from './clock.js';
export { ErrorType, isErrorType } from './error-type.js';
export {
  BreakerTimeoutError,
  CircuitBreakerError,
  isBreakerTimeoutError,
  isCircuitBreakerError,
  withoutStack,
} from './errors.js';
// For fleet syncs (@cbsuite/redis-sync) and their owners (@cbsuite/grpc-interceptor).
export type {
  FleetPolicy,
  LinkedBreaker,
  PendingCounts,
  ProbeGate,
  Quorum,
  TripScope,
} from './fleet-link.js';
export { FleetLink, requiredNodes } from './fleet-link.js';
export type { FleetSync, PanelSync, SyncedPanel } from './fleet-sync.js';
export type { FleetView } from './fleet-view.js';
export { FleetMetricer } from './fleet-view.js';
export type { Counts, Metricer } from './metricer.js';
export { countsOf, MetricsSnapshot } from './metricer.js';
export type { OptionError } from './option-error.js';
export { isOptionError, OptionRangeError, OptionTypeError } from './option-error.js';
export type { BreakerOptions, ResolvedOptions } from './options.js';
export {
  BREAKER_OPTION_NAMES,
  DEFAULT_BUCKET_NUMS,
  DEFAULT_BUCKET_TIME_MS,
  DEFAULT_COOLING_TIMEOUT_MS,
  DEFAULT_DETECT_TIMEOUT_MS,
  DEFAULT_HALF_OPEN_SUCCESSES,
  MIN_BUCKET_NUMS,
  resolveOptions,
} from './options.js';
export type { PanelOptions, PanelStateChangeHandler, PanelStats } from './panel.js';
// For users.
export { Panel, resolvePanelOptions } from './panel.js';
export { show } from './show.js';
export { Mode, State, stateName } from './state.js';
export type { TripFunc, TripFuncWithKey } from './trip-funcs.js';
export {
  anyTripFunc,
  consecutiveTripFunc,
  consecutiveTripFuncV2,
  rateTripFunc,
  slowRateTripFunc,
  thresholdTripFunc,
} from './trip-funcs.js';
export { checkBoolean, checkFunction, checkInteger, checkKeys, checkNumber } from './validate.js';
export type { RecentCounts } from './window-metricer.js';

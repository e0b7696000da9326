// @cbsuite/core: the breaker engine. No runtime dependencies, no timers.
// biome-ignore-all assist/source/organizeImports: the exports are grouped by who needs them

// For users: breakers and panels, their options and defaults, execute(),
// trip funcs, states and modes, errors, events, and load shedding (latency
// throttle, adaptive throttle, concurrency limit).
export type { AdaptiveThrottleOptions } from './adaptive-throttle.js';
export { AdaptiveThrottle } from './adaptive-throttle.js';
export type { BackoffFunc, ExponentialBackoffOptions } from './backoff.js';
export { exponentialBackoff } from './backoff.js';
export { Breaker } from './breaker.js';
export type { Clock } from './clock.js';
export type { AdaptiveLimitOptions, ConcurrencyLimitOptions, LimitOutcome } from './concurrency-limit.js';
export { ConcurrencyLimit } from './concurrency-limit.js';
export { loopClock, systemClock } from './clock.js';
export { ErrorType, isErrorType } from './error-type.js';
export {
  BreakerTimeoutError,
  CircuitBreakerError,
  isBreakerTimeoutError,
  isCircuitBreakerError,
  withoutStack,
} from './errors.js';
export type { Disposer, Event } from './event.js';
export { EventEmitter } from './event.js';
export type { Executable, ExecuteOptions, SignalledExecutable, SignalledExecuteOptions } from './execute.js';
export type { LatencyThrottleOptions } from './latency-throttle.js';
export { LatencyThrottle } from './latency-throttle.js';
export type { Counts, Metricer } from './metricer.js';
export { countsOf, MetricsSnapshot } from './metricer.js';
export type { OptionError } from './option-error.js';
export { isOptionError, OptionRangeError, OptionTypeError } from './option-error.js';
export type { BreakerOptions, ResolvedOptions } from './options.js';
export {
  DEFAULT_BUCKET_NUMS,
  DEFAULT_BUCKET_TIME_MS,
  DEFAULT_COOLING_TIMEOUT_MS,
  DEFAULT_DETECT_TIMEOUT_MS,
  DEFAULT_HALF_OPEN_SUCCESSES,
  MIN_BUCKET_NUMS,
} from './options.js';
export type { PanelOptions, PanelStateChangeHandler, PanelStats } from './panel.js';
export { Panel } from './panel.js';
export type { Permit } from './permit.js';
export { NO_PERMIT, PERMIT } from './permit.js';
export { show } from './show.js';
export { Mode, State, stateName } from './state.js';
export type {
  BreakerStateChangeHandler,
  KeyedStateChangeHandler,
  TransitionCause,
  TransitionInfo,
} from './transition.js';
export type { TripFunc, TripFuncWithKey } from './trip-funcs.js';
export {
  anyTripFunc,
  consecutiveTripFunc,
  consecutiveTripFuncV2,
  rateTripFunc,
  slowRateTripFunc,
  thresholdTripFunc,
} from './trip-funcs.js';
export type { RecentCounts } from './window-metricer.js';

// For the adapters (@cbsuite/grpc-interceptor, @cbsuite/redis-sync) and
// integrations like them: what a fleet sync plugs into, and the validators
// that throw the core's typed option errors, so that options passed on to a
// panel are refused in the same words wherever they are written.
export type { FleetPolicy, LinkedBreaker, PendingCounts, ProbeGate, Quorum, TripScope } from './fleet-link.js';
export { FleetLink, requiredNodes } from './fleet-link.js';
export type { FleetSync, FleetSyncStats, PanelSync, SyncedPanel } from './fleet-sync.js';
export type { FleetView } from './fleet-view.js';
export { FleetMetricer } from './fleet-view.js';
export { resolvePanelOptions } from './panel.js';
export { checkBoolean, checkFunction, checkInteger, checkKeys, checkNumber } from './validate.js';

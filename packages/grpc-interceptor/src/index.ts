// @cbsuite/grpc-interceptor: Kitex's CBSuite for @grpc/grpc-js clients.

// Re-exported from @cbsuite/core for convenience.
export { ErrorType, State, stateName } from '@cbsuite/core';
export type { CallObserver, CallWatch } from './call-observer.js';
export { CALL_ID_HEADER } from './call-registry.js';
export type { CBConfig, CBConfigInput, KitexCBConfig } from './cb-config.js';
export {
  CBConfigError,
  cbConfigEquals,
  DEFAULT_CB_CONFIG,
  getDefaultCBConfig,
  isCBConfigError,
  parseCBConfig,
} from './cb-config.js';
export { CBSuite } from './cb-suite.js';
export { chainStopHandlers, inRetriedRequest, isRetriedRequest, RETRY_HEADER, runInRequest } from './chain-stop.js';
export type { ChannelOptionsInput, ChildPolicy } from './channel-options.js';
export type { CircuitBreakStatus } from './circuit-break-error.js';
export {
  CIRCUIT_BREAK_DETAILS_PREFIX,
  CIRCUIT_BREAK_KEY_TRAILER,
  CIRCUIT_BREAK_TRAILER,
  circuitBreakKey,
  circuitBreakLevel,
  isCircuitBreakError,
} from './circuit-break-error.js';
export type { GetErrorTypeFunc, InstanceFailureCode, Level, OutcomeContext } from './classify.js';
export {
  ERROR_TYPE_TRAILER,
  errorTypeByStatusCode,
  errorTypeOnInstanceLevel,
  errorTypeOnServiceLevel,
  errorTypeTrailer,
  instanceErrorTypeWithCodes,
  isConnectionLevelStatus,
  isRefusedStatus,
  isServiceDiscoveryStatus,
  isTransportCancel,
  markedErrorType,
  SERVICE_FAILURE_CODES,
  wrapErrorTypeFunc,
} from './classify.js';
export type { CBTripFuncFactory } from './config-store.js';
export type { CBDebugInfo, CBDump } from './dump.js';
export type {
  CBConfigChangeEvent,
  CBEjectionEvent,
  CBEvent,
  CBFaultEvent,
  CBHealthProbeEvent,
  CBHedgeEvent,
  CBPanicEvent,
  CBRetryEvent,
  CBStateChangeEvent,
  FaultPhase,
} from './events.js';
export { MIN_GRPC_JS_VERSION } from './grpc-compat.js';
export type { ServingStatus } from './health-codec.js';
export type { HealthCheckOptions } from './health-options.js';
export type { HealthProbeOutcome, HealthProbeResult } from './health-probes.js';
export { HEDGE_LOSER_DETAILS } from './hedged-call.js';
export type { HedgingOption, HedgingOptions } from './hedging-options.js';
export type { InstanceStats } from './instance-level.js';
export {
  INSTANCE_LEVEL_OPTION,
  INSTANCE_POLICY_NAME,
  isInstanceBreakerPolicyRegistered,
  registerInstanceBreakerPolicy,
} from './instance-policy.js';
export {
  withInstanceGetErrorType,
  withServiceGetErrorType,
  withWrappedInstanceGetErrorType,
  withWrappedServiceGetErrorType,
} from './kitex-options.js';
export type { ShedReason } from './load-shed-error.js';
export {
  isLoadShedError,
  LOAD_SHED_DETAILS_PREFIX,
  LOAD_SHED_TRAILER,
  loadShedReason,
} from './load-shed-error.js';
export type { AdaptiveSheddingOptions, LoadSheddingOptions, ShedDump, ShedEvent, ShedKeyDump } from './load-shedder.js';
export type { EjectionChange, EjectionReason } from './outlier-ejection.js';
export type {
  FailurePercentageEjectionOptions,
  LatencyEjectionOptions,
  OutlierDetectionOptions,
  SuccessRateEjectionOptions,
} from './outlier-options.js';
export type { PanicChange } from './panic-mode.js';
export { PUSHBACK_TRAILER, pushbackMsOf } from './pushback.js';
export type { ResolvedRetryBudget, RetryBudgetOptions } from './retry-budget.js';
export { RetryBudget } from './retry-budget.js';
export type { CallFacts, RetryControl, RetryStats } from './retry-control.js';
export { RETRY_STOP_MIN_SAMPLES } from './retry-control.js';
export type { RetryBackoffOptions, RetryOptions } from './retry-options.js';
export type { AttemptFacts, AttemptReach, NoRetryReason, RetryVerdict } from './retry-rule.js';
export type { RobustInstanceOptions } from './robust-instance.js';
export { robustInstance } from './robust-instance.js';
export type { GenServiceCBKeyFunc, RPCInfo } from './rpc-info.js';
export { parseMethodPath, rpcInfo2Key } from './rpc-info.js';
export type { BreakerTimingOptions, CBSuiteOptions } from './suite-options.js';
export type { CBSuiteStats } from './suite-stats.js';
export { isUnsupportedGrpcError, UnsupportedGrpcError } from './unsupported-grpc-error.js';

// @cbsuite/grpc-interceptor: Kitex's CBSuite for @grpc/grpc-js clients.

// Re-exported from @cbsuite/core for convenience.
export { ErrorType, State, stateName } from '@cbsuite/core';
export type { CallObserver, CallWatch } from './call-observer.js';
export type { CBConfig, CBConfigInput, KitexCBConfig } from './cb-config.js';
export {
  CBConfigError,
  cbConfigEquals,
  DEFAULT_CB_CONFIG,
  getDefaultCBConfig,
  isCBConfigError,
  parseCBConfig,
} from './cb-config.js';
export type {
  BreakerTimingOptions,
  CBDebugInfo,
  CBDump,
  CBSuiteOptions,
  CBSuiteStats,
  ChannelOptionsInput,
  ChildPolicy,
} from './cb-suite.js';
// For users.
export { CBSuite } from './cb-suite.js';
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
  markedErrorType,
  SERVICE_FAILURE_CODES,
  wrapErrorTypeFunc,
} from './classify.js';
export type { CBTripFuncFactory } from './config-store.js';
export type { CBConfigChangeEvent, CBEvent, CBFaultEvent, CBStateChangeEvent } from './events.js';
export { MIN_GRPC_JS_VERSION } from './grpc-compat.js';
export type { InstanceStats } from './instance-level.js';
export {
  CALL_ID_HEADER,
  INSTANCE_LEVEL_OPTION,
  INSTANCE_POLICY_NAME,
  isInstanceBreakerPolicyRegistered,
  registerInstanceBreakerPolicy,
} from './instance-policy.js';
export type { GenServiceCBKeyFunc, RPCInfo } from './rpc-info.js';
export { parseMethodPath, rpcInfo2Key } from './rpc-info.js';
export {
  withInstanceGetErrorType,
  withServiceGetErrorType,
  withWrappedInstanceGetErrorType,
  withWrappedServiceGetErrorType,
} from './suite-options.js';
export { isUnsupportedGrpcError, UnsupportedGrpcError } from './unsupported-grpc-error.js';

// @cbsuite/nice-grpc: the service level of a @cbsuite/grpc-interceptor CBSuite for nice-grpc clients.
export { type CBSuiteCallOptions, cbsuiteMiddleware } from './middleware.js';
export {
  circuitBreakKey,
  circuitBreakLevel,
  isCircuitBreakError,
  isLoadShedError,
  loadShedReason,
} from './rejection.js';

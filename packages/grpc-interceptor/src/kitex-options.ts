import type { GetErrorTypeFunc } from './classify.js';
import type { CBSuiteOptions } from './suite-options.js';

// Kitex's functional options, as option fragments to spread into
// `new CBSuite(genKey, { ...withWrappedServiceGetErrorType(f) })`.

/** Replaces the service-level classifier (Kitex's `WithServiceGetErrorType`). */
export function withServiceGetErrorType(f: GetErrorTypeFunc): CBSuiteOptions {
  return { serviceGetErrorType: f };
}

/** Asks `f` when the default service classifier says success (Kitex's `WithWrappedServiceGetErrorType`). */
export function withWrappedServiceGetErrorType(f: GetErrorTypeFunc): CBSuiteOptions {
  return { wrappedServiceGetErrorType: f };
}

/** Replaces the instance-level classifier (Kitex's `WithInstanceGetErrorType`). */
export function withInstanceGetErrorType(f: GetErrorTypeFunc): CBSuiteOptions {
  return { instanceGetErrorType: f };
}

/** Asks `f` when the default instance classifier says success (Kitex's `WithWrappedInstanceGetErrorType`). */
export function withWrappedInstanceGetErrorType(f: GetErrorTypeFunc): CBSuiteOptions {
  return { wrappedInstanceGetErrorType: f };
}

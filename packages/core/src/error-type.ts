/**
 * How an outcome counts (Kitex's `circuitbreak.ErrorType`, same values).
 *
 * - `Ignorable`: not recorded at all.
 * - `Timeout`: recorded as a timeout (counts as an error).
 * - `Failure`: recorded as a failure.
 * - `Success`: recorded as a success.
 */
export const ErrorType = {
  Ignorable: 0,
  Timeout: 1,
  Failure: 2,
  Success: 3,
} as const;
export type ErrorType = (typeof ErrorType)[keyof typeof ErrorType];

/** True for the four `ErrorType` values. */
export function isErrorType(value: unknown): value is ErrorType {
  return value === 0 || value === 1 || value === 2 || value === 3;
}

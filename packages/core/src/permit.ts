/**
 * An admission ticket from `acquire()`: `NO_PERMIT` (0) when the call is
 * rejected, `PERMIT` (1) for a call admitted in CLOSED, and a unique number
 * (>= 2) for each HALF_OPEN probe. Hand it back with the outcome so the
 * breaker can tell probe results from late results.
 */
export type Permit = number;
export const NO_PERMIT: Permit = 0;
export const PERMIT: Permit = 1;

import type { Metricer } from './metricer.js';
import type { State } from './state.js';

/** Why a breaker changed state. */
export type TransitionCause =
  /** CLOSED → OPEN: the trip func said so. */
  | 'trip'
  /** OPEN → HALF_OPEN: cooling ended and a call arrived. */
  | 'cooled'
  /** HALF_OPEN → OPEN: a probe failed, timed out or was slow. */
  | 'probeFailed'
  /** HALF_OPEN → CLOSED: `halfOpenSuccesses` probes succeeded. */
  | 'probeSucceeded'
  /** A forced mode was set or cleared. */
  | 'mode'
  /** `reset()` was called. */
  | 'reset'
  /** A state was applied from elsewhere (a fleet sync). */
  | 'remote';

/** Details of a transition, beside the counts. */
export interface TransitionInfo {
  readonly cause: TransitionCause;
  /** Failed probes since the last close (0 for the open that follows a trip). */
  readonly attempt: number;
  /** For transitions to OPEN: how long this open cools, in ms. 0 otherwise. */
  readonly coolingMs: number;
  /**
   * For a synced breaker: whether this OPEN (or the HALF_OPEN that follows
   * it) is the fleet's, shared with the other nodes, rather than this node's
   * alone. Always false without a sync.
   */
  readonly fleet: boolean;
}

/**
 * Called synchronously after each transition, with the counts at the moment
 * of the transition (for HALF_OPEN → CLOSED, before the window is reset).
 */
export type BreakerStateChangeHandler = (from: State, to: State, m: Metricer, info: TransitionInfo) => void;

/** The handler a panel gives its breakers: the breaker's key comes first. */
export type KeyedStateChangeHandler = (key: string, from: State, to: State, m: Metricer, info: TransitionInfo) => void;

/** Calls `handler` with a transition; what it throws goes to `onError`, never to the breaker's caller. */
export function notify(
  handler: KeyedStateChangeHandler,
  key: string,
  from: State,
  to: State,
  m: Metricer,
  info: TransitionInfo,
  onError: (err: unknown) => void,
): void {
  try {
    handler(key, from, to, m, info);
  } catch (err) {
    onError(err);
  }
}

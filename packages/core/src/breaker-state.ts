import { Mode, State } from './state.js';

// What a breaker is in: the three states of the machine, and the three
// forced modes beside it, each one kind of a union, so that every method
// asks one question (which kind?) instead of a state and then a mode.

/** CLOSED in normal mode, or a forced mode that lets calls through. */
export interface Closed {
  readonly kind: 'closed' | 'disabled' | 'metricsOnly';
}

/** Every call rejected, nothing recorded. */
export interface ForcedOpen {
  readonly kind: 'forcedOpen';
}

/** OPEN: rejecting until `openedAt + coolingMs`. */
export interface Open {
  readonly kind: 'open';
  readonly openedAt: number;
  readonly coolingMs: number;
  /** Failed probes since the last close. */
  readonly attempt: number;
  /** Whether this open is the fleet's (shared through a sync), not this node's alone. */
  readonly fleet: boolean;
}

/** HALF_OPEN: admitting probes, one per detect interval. */
export interface HalfOpen {
  readonly kind: 'halfOpen';
  readonly attempt: number;
  readonly fleet: boolean;
  /** Probes that succeeded so far. */
  successes: number;
  /** When the latest probe was admitted, and the one before (restored if the latest is released unused). */
  lastProbeAt: number;
  prevProbeAt: number;
  lastProbeId: number;
  /** Probes in flight, when tracked: ids and admission times, oldest first. */
  readonly probeIds: number[];
  readonly probeAt: number[];
}

export type BreakerState = Closed | ForcedOpen | Open | HalfOpen;

// The closed kinds are shared singletons, so the hot path is one identity check.
export const CLOSED: Closed = Object.freeze({ kind: 'closed' });
export const DISABLED: Closed = Object.freeze({ kind: 'disabled' });
export const METRICS_ONLY: Closed = Object.freeze({ kind: 'metricsOnly' });
export const FORCED_OPEN: ForcedOpen = Object.freeze({ kind: 'forcedOpen' });

/** The state a mode puts a breaker in. */
export const MODES: Readonly<Record<Mode, BreakerState>> = {
  normal: CLOSED,
  disabled: DISABLED,
  metricsOnly: METRICS_ONLY,
  forcedOpen: FORCED_OPEN,
};

const STATES: Readonly<Record<BreakerState['kind'], State>> = {
  closed: State.Closed,
  disabled: State.Closed,
  metricsOnly: State.Closed,
  forcedOpen: State.Open,
  open: State.Open,
  halfOpen: State.HalfOpen,
};

const MODE_OF: Readonly<Record<BreakerState['kind'], Mode>> = {
  closed: Mode.Normal,
  disabled: Mode.Disabled,
  metricsOnly: Mode.MetricsOnly,
  forcedOpen: Mode.ForcedOpen,
  open: Mode.Normal,
  halfOpen: Mode.Normal,
};

/** The gopkg state a kind reports: forced open is OPEN, disabled and metrics-only are CLOSED. */
export function stateOf(s: BreakerState): State {
  return STATES[s.kind];
}

/** The mode a kind belongs to. */
export function modeOf(s: BreakerState): Mode {
  return MODE_OF[s.kind];
}

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

// Every state is an instance of this one class, whatever its kind, so that
// the breaker's `s.kind` reads stay monomorphic (objects of several shapes
// there would make each read a megamorphic lookup on the rejection path).
class StateObject {
  successes = 0;
  lastProbeAt = 0;
  prevProbeAt = Number.NEGATIVE_INFINITY;
  lastProbeId = 0;
  constructor(
    readonly kind: BreakerState['kind'],
    readonly openedAt: number,
    readonly coolingMs: number,
    readonly attempt: number,
    readonly fleet: boolean,
    readonly probeIds: number[],
    readonly probeAt: number[],
  ) {}
}

const NO_PROBES: number[] = [];
const fixed = (kind: 'closed' | 'disabled' | 'metricsOnly' | 'forcedOpen') =>
  new StateObject(kind, 0, 0, 0, false, NO_PROBES, NO_PROBES);

// The closed kinds are shared singletons (never written), so the hot path is one identity check.
export const CLOSED: Closed = fixed('closed') as Closed;
export const DISABLED: Closed = fixed('disabled') as Closed;
export const METRICS_ONLY: Closed = fixed('metricsOnly') as Closed;
export const FORCED_OPEN: ForcedOpen = fixed('forcedOpen') as ForcedOpen;

/** An OPEN state. */
export function openState(openedAt: number, coolingMs: number, attempt: number, fleet: boolean): Open {
  return new StateObject('open', openedAt, coolingMs, attempt, fleet, NO_PROBES, NO_PROBES) as Open;
}

/** A HALF_OPEN state with no probe yet: its detect interval is open. */
export function halfOpenState(attempt: number, fleet: boolean): HalfOpen {
  return new StateObject('halfOpen', 0, 0, attempt, fleet, [], []) as HalfOpen;
}

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

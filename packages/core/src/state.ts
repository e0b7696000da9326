/**
 * The three states of a breaker (gopkg's values: `Open` 0, `HalfOpen` 1,
 * `Closed` 2).
 *
 * ```text
 *                 trip func says trip (on a failure or timeout)
 *     ┌────────┐ ─────────────────────────────────────────────▶ ┌──────┐
 *     │ CLOSED │                                                 │ OPEN │
 *     └────────┘ ◀──┐                       ┌─────────────────── └──────┘
 *          ▲        │ halfOpenSuccesses     │ any probe fails       │ first isAllowed() after
 *          │        │ probes succeed        │ (cooling restarts,    │ coolingTimeoutMs (lazy:
 *          │        │ (window is reset)     │  with backoff if set) │ no timer) is the first probe
 *          │      ┌───────────┐ ────────────┘                       │
 *          │      │ HALF_OPEN │ ◀───────────────────────────────────┘
 *          │      └───────────┘  admits one call per detectTimeoutMs
 *          └──── reset(), or a forced mode set back to normal
 * ```
 *
 * | state     | isAllowed()                                  | succeed()                    | fail() / timeout()                     |
 * |-----------|----------------------------------------------|------------------------------|----------------------------------------|
 * | CLOSED    | allow                                        | record                       | record, then trip func → OPEN          |
 * | OPEN      | reject until cooled; then → HALF_OPEN, allow | ignored                      | record                                 |
 * | HALF_OPEN | allow one per detectTimeoutMs                | count; enough → CLOSED       | record; → OPEN                         |
 */
export const State = {
  Open: 0,
  HalfOpen: 1,
  Closed: 2,
} as const;
export type State = (typeof State)[keyof typeof State];

const NAMES = ['OPEN', 'HALFOPEN', 'CLOSED'] as const;

/** gopkg's `State.String()`: `"OPEN"`, `"HALFOPEN"`, `"CLOSED"`, or `"INVALID"`. */
export function stateName(state: State): 'OPEN' | 'HALFOPEN' | 'CLOSED' | 'INVALID' {
  return NAMES[state] ?? 'INVALID';
}

/**
 * Forced modes, set per key (the enable and disable signals of the tremor
 * circuit-breaker RFC; resilience4j's special states).
 *
 * - `normal`: the state machine above.
 * - `forcedOpen`: every call is rejected; nothing is recorded.
 * - `disabled`: every call is allowed; nothing is recorded.
 * - `metricsOnly`: every call is allowed and recorded; the breaker never trips.
 *
 * Setting any mode other than `normal` leaves the state machine; setting
 * `normal` again resumes it in CLOSED, keeping the window.
 */
export const Mode = {
  Normal: 'normal',
  ForcedOpen: 'forcedOpen',
  Disabled: 'disabled',
  MetricsOnly: 'metricsOnly',
} as const;
export type Mode = (typeof Mode)[keyof typeof Mode];

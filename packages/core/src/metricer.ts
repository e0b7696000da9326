/**
 * Read-only statistics of one breaker's window (gopkg's `Metricer`).
 *
 * Counts cover the current bucket plus the `bucketNums - 1` before it
 * (9.9 to 10 s with the defaults). `conseErrors` and `conseTimeMs` are not
 * windowed: they describe the current run of errors since the last recorded
 * success.
 */
export interface Metricer {
  /** Successes in the window. */
  successes(): number;
  /** Failures in the window. */
  failures(): number;
  /** Timeouts in the window. */
  timeouts(): number;
  /** Calls recorded as slow (latency >= `slowCallDurationMs`) in the window; 0 when slow calls are not tracked. */
  slowCalls(): number;
  /** `successes + failures + timeouts`. */
  samples(): number;
  /** `(failures + timeouts) / samples`, or 0 with no samples. */
  errorRate(): number;
  /** `slowCalls / samples`, or 0 with no samples. */
  slowRate(): number;
  /** Failures and timeouts since the last recorded success (not windowed). */
  conseErrors(): number;
  /** Milliseconds since the first error of the current run of errors; 0 when there is no run. */
  conseTimeMs(): number;
}

/** A metricer's values as plain numbers, as carried by `dump()` and JSON. */
export interface Counts {
  readonly successes: number;
  readonly failures: number;
  readonly timeouts: number;
  readonly slowCalls: number;
  readonly samples: number;
  readonly errorRate: number;
  readonly conseErrors: number;
}

/**
 * A frozen copy of a metricer: a `Metricer` whose answers never change.
 * State-change events carry one, taken at the moment of the transition.
 */
export class MetricsSnapshot implements Metricer {
  readonly #s: number;
  readonly #f: number;
  readonly #t: number;
  readonly #slow: number;
  readonly #conse: number;
  readonly #conseTime: number;

  constructor(successes: number, failures: number, timeouts: number, slowCalls = 0, conseErrors = 0, conseTimeMs = 0) {
    this.#s = successes;
    this.#f = failures;
    this.#t = timeouts;
    this.#slow = slowCalls;
    this.#conse = conseErrors;
    this.#conseTime = conseTimeMs;
  }

  /** Copies `m`'s current values. */
  static of(m: Metricer): MetricsSnapshot {
    return new MetricsSnapshot(
      m.successes(),
      m.failures(),
      m.timeouts(),
      m.slowCalls(),
      m.conseErrors(),
      m.conseTimeMs(),
    );
  }

  successes(): number {
    return this.#s;
  }
  failures(): number {
    return this.#f;
  }
  timeouts(): number {
    return this.#t;
  }
  slowCalls(): number {
    return this.#slow;
  }
  samples(): number {
    return this.#s + this.#f + this.#t;
  }
  errorRate(): number {
    return rate(this.#f + this.#t, this.samples());
  }
  slowRate(): number {
    return rate(this.#slow, this.samples());
  }
  conseErrors(): number {
    return this.#conse;
  }
  conseTimeMs(): number {
    return this.#conseTime;
  }
  toJSON(): Counts {
    return countsOf(this);
  }
}

/** `m`'s values as a plain object. */
export function countsOf(m: Metricer): Counts {
  return {
    successes: m.successes(),
    failures: m.failures(),
    timeouts: m.timeouts(),
    slowCalls: m.slowCalls(),
    samples: m.samples(),
    errorRate: m.errorRate(),
    conseErrors: m.conseErrors(),
  };
}

/** `part / total`, or 0 when total is 0. */
export function rate(part: number, total: number): number {
  return total === 0 ? 0 : part / total;
}

import { ErrorType, isErrorType } from './error-type.js';
import { BreakerTimeoutError, CircuitBreakerError, withoutStack } from './errors.js';
import type { FleetLink, LinkedBreaker } from './fleet-link.js';
import type { FleetView } from './fleet-view.js';
import { type Metricer, MetricsSnapshot } from './metricer.js';
import { OptionTypeError } from './option-error.js';
import { type BreakerOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { Mode, State } from './state.js';
import type { TripFunc } from './trip-funcs.js';
import { checkFunction, checkNumber } from './validate.js';
import { type RecentCounts, WindowMetricer } from './window-metricer.js';

/**
 * An admission ticket from `acquire()`: `NO_PERMIT` (0) when the call is
 * rejected, `PERMIT` (1) for a call admitted in CLOSED, and a unique number
 * (>= 2) for each HALF_OPEN probe. Hand it back with the outcome so the
 * breaker can tell probe results from late results.
 */
export type Permit = number;
export const NO_PERMIT: Permit = 0;
export const PERMIT: Permit = 1;

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

/** Per-call options of `execute`. */
export interface ExecuteOptions {
  /**
   * Give up after this many ms: the call's signal is aborted, the outcome is
   * recorded as a timeout and the promise rejects with a `BreakerTimeoutError`.
   */
  readonly timeoutMs?: number;
  /** The caller's signal. Aborting it rejects with its reason and records nothing. */
  readonly signal?: AbortSignal;
  /** Classifies a thrown error. Default: every error is a `Failure`. */
  readonly classify?: (err: unknown) => ErrorType;
}

/**
 * The function `execute` runs. It receives an abort signal when the call has
 * a `timeoutMs` or a caller's `signal`, and `undefined` otherwise (the fast
 * path makes no `AbortController`).
 */
export type Executable<T> = (signal: AbortSignal | undefined) => T | PromiseLike<T>;

/** A function that needs its signal: `execute` takes it with options that set `timeoutMs` or `signal`. */
export type SignalledExecutable<T> = (signal: AbortSignal) => T | PromiseLike<T>;

/** Options with which `execute` always passes a signal: a `timeoutMs`, a caller's `signal`, or both. */
export type SignalledExecuteOptions = ExecuteOptions &
  ({ readonly timeoutMs: number } | { readonly signal: AbortSignal });

interface ClosedInner {
  readonly state: typeof State.Closed;
  readonly mode: typeof Mode.Normal | typeof Mode.Disabled | typeof Mode.MetricsOnly;
}
interface OpenInner {
  readonly state: typeof State.Open;
  readonly mode: typeof Mode.Normal;
  readonly openedAt: number;
  readonly coolingMs: number;
  readonly attempt: number;
  readonly fleet: boolean;
}
interface ForcedOpenInner {
  readonly state: typeof State.Open;
  readonly mode: typeof Mode.ForcedOpen;
}
interface HalfOpenInner {
  readonly state: typeof State.HalfOpen;
  readonly mode: typeof Mode.Normal;
  readonly attempt: number;
  readonly fleet: boolean;
  successes: number;
  /** When the latest probe was admitted, and the one before (restored if the latest is released unused). */
  lastProbeAt: number;
  prevProbeAt: number;
  lastProbeId: number;
  /** Probes in flight, when tracked: ids and admission times, oldest first. */
  readonly probeIds: number[];
  readonly probeAt: number[];
}
type Inner = ClosedInner | OpenInner | ForcedOpenInner | HalfOpenInner;

// The closed states are shared singletons, so the hot path is one identity check.
const CLOSED: ClosedInner = Object.freeze({ state: State.Closed, mode: Mode.Normal });
const DISABLED: ClosedInner = Object.freeze({ state: State.Closed, mode: Mode.Disabled });
const METRICS_ONLY: ClosedInner = Object.freeze({ state: State.Closed, mode: Mode.MetricsOnly });
const FORCED_OPEN: ForcedOpenInner = Object.freeze({ state: State.Open, mode: Mode.ForcedOpen });
const MODES: Record<Mode, Inner> = {
  normal: CLOSED,
  disabled: DISABLED,
  metricsOnly: METRICS_ONLY,
  forcedOpen: FORCED_OPEN,
};

let nextProbeId = 2;
const newProbeId = (): number => {
  const id = nextProbeId++;
  if (nextProbeId >= Number.MAX_SAFE_INTEGER) nextProbeId = 2;
  return id;
};

/** How a panel builds its breakers without validating options again (not for users). */
export interface BreakerInit {
  readonly key: string;
  readonly options: ResolvedOptions;
  readonly onStateChange: KeyedStateChangeHandler | undefined;
}

/**
 * One circuit breaker: a window of outcomes and the CLOSED → OPEN → HALF_OPEN
 * state machine of gopkg (see {@link State} for the diagram). Usually made
 * per key by a {@link Panel}; a stand-alone breaker guards a single resource.
 *
 * No timers: OPEN becomes HALF_OPEN lazily, in the first `acquire()` or
 * `isAllowed()` after cooling.
 */
export class Breaker implements LinkedBreaker {
  /** The panel key, or `""` for a stand-alone breaker. */
  readonly key: string;
  private readonly opts: ResolvedOptions;
  private readonly win: WindowMetricer;
  private readonly onChange: KeyedStateChangeHandler | undefined;
  private s: Inner = CLOSED;
  private rejection: Rejection | undefined = undefined;
  private handlers: ExecuteHandlers | undefined = undefined;
  /** @internal The panel's least-recently-used list. */
  lruPrev: Breaker | undefined = undefined;
  /** @internal */
  lruNext: Breaker | undefined = undefined;
  /** The fleet sync's link, when the breaker's panel is synced (set by the panel). */
  link: FleetLink | undefined = undefined;

  /**
   * @param options validated here; throws `OptionTypeError`/`OptionRangeError` naming a bad option.
   * @param onStateChange called after each transition.
   */
  constructor(options?: BreakerOptions, onStateChange?: BreakerStateChangeHandler, init?: BreakerInit) {
    if (init !== undefined) {
      this.key = init.key;
      this.opts = init.options;
      this.onChange = init.onStateChange;
    } else {
      this.key = '';
      this.opts = resolveOptions(options);
      if (onStateChange !== undefined) checkFunction('onStateChange', onStateChange);
      this.onChange = onStateChange && ((_key, from, to, m, info) => onStateChange(from, to, m, info));
    }
    this.win = new WindowMetricer(this.opts);
  }

  /** The current state. A forced-open breaker reports OPEN; disabled and metrics-only report CLOSED. */
  state(): State {
    return this.s.state;
  }

  /** The current mode. */
  mode(): Mode {
    return this.s.mode;
  }

  /** The live window statistics. */
  metricer(): Metricer {
    return this.win;
  }

  /** Outcomes recorded since the breaker was made; unlike the window, never rotated nor reset. */
  totals(): { successes: number; failures: number; timeouts: number } {
    return this.win.totals();
  }

  /** Whether a call may go out now (gopkg's `IsAllowed`). In HALF_OPEN this takes a probe slot. */
  isAllowed(): boolean {
    return this.acquire() !== NO_PERMIT;
  }

  /**
   * Like `isAllowed()`, but returns a {@link Permit} to pass back with the
   * outcome (or to `release()` if the call never goes out).
   */
  acquire(): Permit {
    const s = this.s;
    if (s === CLOSED) return PERMIT;
    return this.acquireSlow(s);
  }

  /**
   * Gives back a permit whose call never went out: a probe slot is freed and
   * the detect interval it took is restored. Nothing is recorded.
   */
  release(permit: Permit): void {
    const s = this.s;
    if (permit <= PERMIT || s.state !== State.HalfOpen || s.mode !== Mode.Normal) return;
    if (this.opts.trackProbes) removeProbe(s, permit);
    if (permit === s.lastProbeId) {
      s.lastProbeAt = s.prevProbeAt;
      s.lastProbeId = 0;
    }
  }

  // A call that went out ended with an outcome that says nothing: unlike
  // release(), the detect interval its probe took is not given back.
  private ignored(permit: Permit): void {
    const s = this.s;
    if (permit <= PERMIT || s.state !== State.HalfOpen || s.mode !== Mode.Normal) return;
    if (this.opts.trackProbes) removeProbe(s, permit);
    if (permit === s.lastProbeId) s.lastProbeId = 0;
  }

  /** Records a success. `latencyMs` feeds slow-call tracking; `permit` identifies a probe. */
  succeed(latencyMs?: number, permit?: Permit): void {
    const s = this.s;
    if (s === CLOSED) {
      const slow = latencyMs !== undefined && latencyMs >= this.opts.slowCallDurationMs;
      const now = this.opts.now();
      this.win.recordSuccess(now, slow);
      if (this.link !== undefined) this.link.add(0, slow, now);
      if (slow) this.tripIfNeeded(undefined, now);
      return;
    }
    this.succeedSlow(s, latencyMs, permit);
  }

  /** Records a failure; in CLOSED, then asks the trip func. */
  fail(latencyMs?: number, permit?: Permit): void {
    this.error(false, undefined, latencyMs, permit);
  }

  /** Records a failure and asks `tripFunc` instead of the configured one. */
  failWithTrip(tripFunc: TripFunc, latencyMs?: number, permit?: Permit): void {
    this.error(false, tripFunc, latencyMs, permit);
  }

  /** Records a timeout; in CLOSED, then asks the trip func. */
  timeout(latencyMs?: number, permit?: Permit): void {
    this.error(true, undefined, latencyMs, permit);
  }

  /** Records a timeout and asks `tripFunc` instead of the configured one. */
  timeoutWithTrip(tripFunc: TripFunc, latencyMs?: number, permit?: Permit): void {
    this.error(true, tripFunc, latencyMs, permit);
  }

  /**
   * Records an outcome by {@link ErrorType} (Kitex's `RecordStat`). An
   * `Ignorable` outcome records nothing; a probe's permit stops counting as in
   * flight, but the detect interval the probe took stays taken (gopkg), so a
   * cancelled probe does not let another call through at once.
   */
  record(type: ErrorType, latencyMs?: number, permit?: Permit): void {
    if (type === ErrorType.Success) this.succeed(latencyMs, permit);
    else if (type === ErrorType.Failure) this.fail(latencyMs, permit);
    else if (type === ErrorType.Timeout) this.timeout(latencyMs, permit);
    else if (permit !== undefined) this.ignored(permit);
  }

  /**
   * Empties the window and returns a normal-mode breaker to CLOSED. Forced
   * modes stay. Unlike gopkg, a state change here fires the handler.
   */
  reset(): void {
    const s = this.s;
    const snapshot = this.snapshot();
    this.win.reset();
    this.link?.resetWindow();
    if (s.mode !== Mode.Normal || s === CLOSED) return;
    this.s = CLOSED;
    this.changed(s.state, State.Closed, 'reset', 0, 0, snapshot);
  }

  /**
   * Sets a forced mode (see {@link Mode}). Setting `normal` from another mode
   * resumes the state machine in CLOSED, keeping the window.
   */
  setMode(mode: Mode): void {
    const next = MODES[mode];
    if (next === undefined || !Object.hasOwn(MODES, mode)) {
      throw new OptionTypeError('mode', mode, `must be one of ${Object.keys(MODES).join(', ')}`);
    }
    const s = this.s;
    if (s.mode === mode) return;
    this.s = next;
    if (s.state !== next.state) this.changed(s.state, next.state, 'mode', 0, 0);
    else this.rejection = undefined;
  }

  /**
   * Runs `fn` if the breaker allows it and records how it ended: a fulfilled
   * promise is a success, a rejection a failure (or what `classify` says),
   * `timeoutMs` passing a timeout. When not allowed, rejects at once with a
   * {@link CircuitBreakerError} (no stack trace) and does not call `fn`.
   *
   * Rejected calls of one breaker in one state share one error and one
   * rejected promise, which is marked handled: a caller that drops it gets
   * no unhandled-rejection warning for it.
   *
   * `fn` gets an abort signal when `options` set `timeoutMs` or `signal`,
   * so with those it may declare `(signal: AbortSignal) =>`.
   */
  execute<T>(fn: SignalledExecutable<T>, options: SignalledExecuteOptions): Promise<T>;
  execute<T>(fn: Executable<T>, options?: ExecuteOptions): Promise<T>;
  execute<T>(fn: Executable<T> | SignalledExecutable<T>, options?: ExecuteOptions): Promise<T> {
    const permit = this.acquire();
    if (permit === NO_PERMIT) return (this.rejection ?? this.makeRejection()).promise;
    if (options === undefined && permit === PERMIT && !this.opts.trackSlow) {
      const h = this.handlers ?? this.makeHandlers();
      let result: T | PromiseLike<T>;
      try {
        result = (fn as Executable<T>)(undefined);
      } catch (err) {
        this.fail();
        return Promise.reject(err);
      }
      return Promise.resolve(result).then(h.ok, h.err) as Promise<T>;
    }
    return this.executeSlow(fn as Executable<T>, permit, options);
  }

  /** The error a rejected call gets: one instance per state, without a stack trace. */
  rejectionError(): CircuitBreakerError {
    return (this.rejection ?? this.makeRejection()).error;
  }

  // One error and one rejected promise per state, shared by every rejected
  // call. The promise is marked handled when made: awaiting a promise that is
  // rejected with no handler costs ~1 µs more in Node, which tracks it as a
  // possible unhandled rejection.
  private makeRejection(): Rejection {
    const { state, mode } = this.s;
    const error = withoutStack(() => new CircuitBreakerError(this.key, state, mode));
    const promise = Promise.reject(error);
    promise.catch(ignore);
    const r: Rejection = { error, promise };
    this.rejection = r;
    return r;
  }

  /**
   * For a synced breaker: the rest of the fleet's counts for this key, as the
   * sync last heard them, if still fresh. Undefined without a sync.
   */
  fleetView(): FleetView | undefined {
    return this.link?.freshView(this.opts.now());
  }

  /** When an OPEN breaker's cooling ends (local clock, ms); undefined in other states. */
  coolsAt(): number | undefined {
    const s = this.s;
    return s.state === State.Open && s.mode === Mode.Normal ? s.openedAt + s.coolingMs : undefined;
  }

  /** Whether the current OPEN or HALF_OPEN state is the fleet's (see {@link TransitionInfo.fleet}). */
  isFleetScoped(): boolean {
    const s = this.s;
    return (s.state === State.Open || s.state === State.HalfOpen) && s.mode === Mode.Normal && s.fleet;
  }

  /** Failed probes since the last close. */
  attempt(): number {
    const s = this.s;
    return (s.state === State.Open || s.state === State.HalfOpen) && s.mode === Mode.Normal ? s.attempt : 0;
  }

  /**
   * For fleet syncs: the fleet opened this key, with `remainingMs` of a
   * `coolingMs` cooling left (already translated to this node's clock).
   * Returns whether the breaker changed. Forced modes are left alone.
   */
  applyFleetOpen(remainingMs: number, coolingMs: number, attempt: number): boolean {
    const s = this.s;
    if (s.mode !== Mode.Normal) return false;
    const now = this.opts.now();
    const openedAt = now - Math.max(0, coolingMs - remainingMs);
    if (s.state === State.Open && s.fleet && s.attempt === attempt && Math.abs(s.openedAt - openedAt) < 1) return false;
    this.s = { state: State.Open, mode: Mode.Normal, openedAt, coolingMs, attempt, fleet: true };
    if (s.state !== State.Open) this.changed(s.state, State.Open, 'remote', attempt, coolingMs, undefined, true);
    else this.rejection = undefined;
    return true;
  }

  /**
   * For fleet syncs: this node's own OPEN becomes the fleet's, because the
   * quorum of failing nodes came after its trip (their reports lag it). The
   * cooling goes on as it was; no transition (the state stays OPEN). Returns
   * whether the breaker changed.
   */
  promoteToFleet(): boolean {
    const s = this.s;
    if (s.state !== State.Open || s.mode !== Mode.Normal || s.fleet) return false;
    this.s = { ...s, fleet: true };
    this.rejection = undefined;
    return true;
  }

  /**
   * For fleet syncs: the fleet closed this key. Only a fleet-scoped OPEN or
   * HALF_OPEN closes (and its window resets); an OPEN of this node's own
   * runs its own probes. Returns whether the breaker changed.
   */
  applyFleetClose(): boolean {
    const s = this.s;
    if (s.mode !== Mode.Normal || s.state === State.Closed || !s.fleet) return false;
    const snapshot = this.snapshot();
    this.win.reset();
    this.link?.resetWindow();
    this.s = CLOSED;
    this.changed(s.state, State.Closed, 'remote', 0, 0, snapshot, true);
    return true;
  }

  /** For fleet syncs: the configured trip func's verdict on `m` (false when the key has none). */
  wouldTrip(m: Metricer): boolean {
    return this.tripFunc()(m);
  }

  /** For fleet syncs: this breaker's outcomes over about the last `ms` (whole buckets, at most the window). */
  recentCounts(ms: number): RecentCounts {
    return this.win.recent(this.opts.now(), ms);
  }

  /** @internal For a panel: CLOSED in normal mode, so the breaker may be evicted. */
  isClosedNormal(): boolean {
    return this.s === CLOSED;
  }

  /** @internal For a panel: no samples in the window at `now`. */
  isEmptyAt(now: number): boolean {
    return this.win.isEmptyAt(now);
  }

  private acquireSlow(s: Inner): Permit {
    if (s.mode !== Mode.Normal) return s.mode === Mode.ForcedOpen ? NO_PERMIT : PERMIT;
    if (s.state === State.Closed) return PERMIT;
    const now = this.opts.now();
    const link = this.link;
    if (link !== undefined) link.lastUsed = now;
    if (s.state === State.Open) {
      if (now < s.openedAt + s.coolingMs) return NO_PERMIT;
      // The fleet probes through one node at a time: the others keep rejecting.
      if (s.fleet && link !== undefined && !link.mayProbe()) return NO_PERMIT;
      const h: HalfOpenInner = {
        state: State.HalfOpen,
        mode: Mode.Normal,
        attempt: s.attempt,
        fleet: s.fleet,
        successes: 0,
        lastProbeAt: now,
        prevProbeAt: Number.NEGATIVE_INFINITY,
        lastProbeId: 0,
        probeIds: [],
        probeAt: [],
      };
      this.s = h;
      const permit = this.addProbe(h, now);
      this.changed(State.Open, State.HalfOpen, 'cooled', s.attempt, 0, undefined, s.fleet);
      return permit;
    }
    if (this.opts.trackProbes) this.expireProbes(s, now);
    if (now < s.lastProbeAt + this.opts.detectTimeoutMs) return NO_PERMIT;
    if (s.probeIds.length >= this.opts.halfOpenMaxProbes) return NO_PERMIT;
    s.prevProbeAt = s.lastProbeAt;
    s.lastProbeAt = now;
    return this.addProbe(s, now);
  }

  private addProbe(s: HalfOpenInner, now: number): Permit {
    const id = newProbeId();
    s.lastProbeId = id;
    if (this.opts.trackProbes) {
      s.probeIds.push(id);
      s.probeAt.push(now);
    }
    return id;
  }

  private expireProbes(s: HalfOpenInner, now: number): void {
    const cutoff = now - this.opts.halfOpenProbeTimeoutMs;
    let n = 0;
    while (n < s.probeAt.length && (s.probeAt[n] as number) <= cutoff) n++;
    if (n > 0) {
      s.probeIds.splice(0, n);
      s.probeAt.splice(0, n);
    }
  }

  /**
   * Whether an outcome in HALF_OPEN counts as a probe result, taking the
   * probe off the in-flight list. Untracked (Kitex): every outcome counts.
   */
  private takeProbe(s: HalfOpenInner, permit: Permit | undefined): boolean {
    if (!this.opts.trackProbes) return true;
    if (permit !== undefined && permit > PERMIT && removeProbe(s, permit)) return true;
    if (this.opts.strictProbes) return false;
    if (s.probeIds.length > 0) {
      s.probeIds.shift();
      s.probeAt.shift();
    }
    return true;
  }

  private succeedSlow(s: Inner, latencyMs: number | undefined, permit: Permit | undefined): void {
    if (s.mode === Mode.MetricsOnly) {
      const slow = latencyMs !== undefined && latencyMs >= this.opts.slowCallDurationMs;
      const now = this.opts.now();
      this.win.recordSuccess(now, slow);
      this.link?.add(0, slow, now);
      return;
    }
    // OPEN: late successes are not recorded (gopkg). Disabled and forced open record nothing.
    if (s.state !== State.HalfOpen) return;
    if (!this.takeProbe(s, permit)) return;
    if (latencyMs !== undefined && latencyMs >= this.opts.slowCallDurationMs) {
      this.open(this.opts.now(), s.attempt + 1, 'probeFailed', s.fleet);
      return;
    }
    s.successes++;
    if (s.successes < this.opts.halfOpenSuccesses) return;
    const snapshot = this.snapshot();
    this.win.reset();
    this.link?.resetWindow();
    this.s = CLOSED;
    this.changed(State.HalfOpen, State.Closed, 'probeSucceeded', s.attempt, 0, snapshot, s.fleet);
  }

  private error(isTimeout: boolean, trip: TripFunc | undefined, latencyMs: number | undefined, permit?: Permit): void {
    const s = this.s;
    if (s.mode === Mode.Disabled || s.mode === Mode.ForcedOpen) return;
    const now = this.opts.now();
    const slow = latencyMs !== undefined && latencyMs >= this.opts.slowCallDurationMs;
    if (isTimeout) this.win.recordTimeout(now, slow);
    else this.win.recordFailure(now, slow);
    this.link?.add(isTimeout ? 2 : 1, slow, now);
    if (s === CLOSED) this.tripIfNeeded(trip, now);
    else if (s.state === State.HalfOpen && this.takeProbe(s, permit))
      this.open(now, s.attempt + 1, 'probeFailed', s.fleet);
  }

  // A synced breaker asks its link what a trip opens: nothing, this node
  // alone, or the key for the fleet (see FleetLink.tripScope).
  private tripIfNeeded(trip: TripFunc | undefined, now: number): void {
    const f = trip ?? this.tripFunc();
    const link = this.link;
    if (link === undefined) {
      if (f(this.win)) this.open(now, 0, 'trip', false);
      return;
    }
    const scope = link.tripScope(f, this.win, now);
    if (scope !== 'none') this.open(now, 0, 'trip', scope === 'fleet');
  }

  // The trip func in force for this key (resolved on every evaluation, so
  // config changes apply at once).
  private tripFunc(): TripFunc {
    const withKey = this.opts.shouldTripWithKey;
    return withKey === undefined ? this.opts.shouldTrip : withKey(this.key);
  }

  private open(now: number, attempt: number, cause: TransitionCause, fleet: boolean): void {
    const from = this.s.state;
    const base = this.opts.coolingTimeoutMs;
    let coolingMs = base;
    if (this.opts.coolingBackoff !== undefined) {
      coolingMs = this.opts.coolingBackoff(attempt, base, this.opts.random);
      // A user's backoff function must not be able to wedge the breaker open.
      if (!(coolingMs >= 0) || coolingMs === Number.POSITIVE_INFINITY) coolingMs = base;
    }
    this.s = { state: State.Open, mode: Mode.Normal, openedAt: now, coolingMs, attempt, fleet };
    this.changed(from, State.Open, cause, attempt, coolingMs, undefined, fleet);
  }

  private snapshot(): MetricsSnapshot | undefined {
    return this.onChange === undefined ? undefined : MetricsSnapshot.of(this.win);
  }

  private changed(
    from: State,
    to: State,
    cause: TransitionCause,
    attempt: number,
    coolingMs: number,
    snapshot?: MetricsSnapshot,
    fleet = false,
  ): void {
    this.rejection = undefined;
    const handler = this.onChange;
    if (handler === undefined) return;
    const m = snapshot ?? MetricsSnapshot.of(this.win);
    try {
      handler(this.key, from, to, m, Object.freeze({ cause, attempt, coolingMs, fleet }));
    } catch (err) {
      this.opts.onHandlerError(err);
    }
  }

  private makeHandlers(): ExecuteHandlers {
    const h: ExecuteHandlers = {
      ok: (value) => {
        this.succeed();
        return value;
      },
      err: (err) => {
        this.fail();
        throw err;
      },
    };
    this.handlers = h;
    return h;
  }

  private executeSlow<T>(fn: Executable<T>, permit: Permit, options: ExecuteOptions | undefined): Promise<T> {
    const timeoutMs = options?.timeoutMs;
    const signal = options?.signal;
    const classify = options?.classify;
    try {
      if (timeoutMs !== undefined) checkNumber('timeoutMs', timeoutMs, 0);
      if (signal !== undefined && !(signal instanceof AbortSignal)) {
        throw new OptionTypeError('signal', signal, 'must be an AbortSignal');
      }
      if (classify !== undefined) checkFunction('classify', classify);
    } catch (err) {
      this.release(permit);
      return Promise.reject(err);
    }
    if (signal?.aborted) {
      this.release(permit);
      return Promise.reject(signal.reason);
    }
    const clock = this.opts.now;
    const start = this.opts.trackSlow ? clock() : 0;
    const latency = () => (this.opts.trackSlow ? clock() - start : undefined);

    return new Promise<T>((resolve, reject) => {
      let settled = false;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const controller = timeoutMs !== undefined || signal !== undefined ? new AbortController() : undefined;
      const settle = (): boolean => {
        if (settled) return false;
        settled = true;
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        return true;
      };
      const onAbort = () => {
        if (!settle()) return;
        this.record(ErrorType.Ignorable, undefined, permit);
        controller?.abort(signal?.reason);
        reject(signal?.reason);
      };
      const onError = (err: unknown) => {
        if (!settle()) return;
        let type: ErrorType = ErrorType.Failure;
        if (classify !== undefined) {
          try {
            const t = classify(err);
            if (isErrorType(t)) type = t;
          } catch {
            // A throwing classifier leaves the default: a failure.
          }
        }
        this.record(type, latency(), permit);
        reject(err);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          if (!settle()) return;
          const err = new BreakerTimeoutError(this.key, timeoutMs);
          this.timeout(latency(), permit);
          controller?.abort(err);
          reject(err);
        }, timeoutMs);
      }
      let result: T | PromiseLike<T>;
      try {
        result = fn(controller?.signal);
      } catch (err) {
        onError(err);
        return;
      }
      Promise.resolve(result).then((value) => {
        if (!settle()) return;
        this.succeed(latency(), permit);
        resolve(value);
      }, onError);
    });
  }
}

interface Rejection {
  readonly error: CircuitBreakerError;
  readonly promise: Promise<never>;
}

const ignore = () => {};

interface ExecuteHandlers {
  // biome-ignore lint/suspicious/noExplicitAny: shared by every T of one breaker
  readonly ok: (value: any) => any;
  readonly err: (err: unknown) => never;
}

function removeProbe(s: HalfOpenInner, permit: Permit): boolean {
  const i = s.probeIds.indexOf(permit);
  if (i < 0) return false;
  s.probeIds.splice(i, 1);
  s.probeAt.splice(i, 1);
  return true;
}

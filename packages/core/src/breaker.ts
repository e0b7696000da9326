import type { BreakerState, HalfOpen, Open } from './breaker-state.js';
import { CLOSED, MODES, modeOf, openState, stateOf } from './breaker-state.js';
import { ErrorType } from './error-type.js';
import { CircuitBreakerError } from './errors.js';
import {
  type Executable,
  type ExecuteHandlers,
  type ExecuteOptions,
  execute,
  makeRejection,
  type Rejection,
  type SignalledExecutable,
  type SignalledExecuteOptions,
} from './execute.js';
import type { FleetLink, LinkedBreaker } from './fleet-link.js';
import type { FleetView } from './fleet-view.js';
import type { LruEntry } from './lru-list.js';
import { type Metricer, MetricsSnapshot } from './metricer.js';
import { OptionTypeError } from './option-error.js';
import {
  type BreakerInit,
  type BreakerOptions,
  coolingFor,
  type ResolvedOptions,
  resolveOptions,
  tripFuncOf,
} from './options.js';
import { NO_PERMIT, PERMIT, type Permit } from './permit.js';
import { admitProbe, endProbe, halfOpenWithProbe, takeProbe } from './probes.js';
import { type Mode, State } from './state.js';
import {
  type BreakerStateChangeHandler,
  type KeyedStateChangeHandler,
  notify,
  type TransitionCause,
  type TransitionInfo,
} from './transition.js';
import type { TripFunc } from './trip-funcs.js';
import { checkFunction } from './validate.js';
import { type RecentCounts, WindowMetricer } from './window-metricer.js';

/**
 * One circuit breaker: a window of outcomes and the CLOSED → OPEN → HALF_OPEN
 * state machine of gopkg (see {@link State} for the diagram), with the forced
 * modes beside it (see {@link Mode}). Usually made per key by a `Panel`; a
 * stand-alone breaker guards a single resource. No timers: OPEN becomes
 * HALF_OPEN in the first `acquire()` or `isAllowed()` after cooling.
 */
export class Breaker implements LinkedBreaker {
  /** The panel key, or `""` for a stand-alone breaker. */
  readonly key: string;
  private readonly opts: ResolvedOptions;
  private readonly win: WindowMetricer;
  private readonly onChange: KeyedStateChangeHandler | undefined;
  private s: BreakerState = CLOSED;
  private rejected: Rejection | undefined = undefined;
  private rejectedIn: BreakerState | undefined = undefined; // a transition makes a new state object
  /** @internal execute()'s handlers of plain calls, made once per breaker. */
  executeHandlers: ExecuteHandlers | undefined = undefined;
  /** The fleet sync's link, when the breaker's panel is synced (set by the panel). */
  link: FleetLink | undefined = undefined;
  /** @internal The breaker's place in its panel's least-recently-used list, when the panel is bounded (`maxKeys`). */
  lru: LruEntry<Breaker> | undefined = undefined;

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
    return stateOf(this.s);
  }

  /** The current mode. */
  mode(): Mode {
    return modeOf(this.s);
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

  /** `isAllowed()` returning a {@link Permit} to pass back with the outcome, or to `release()` if the call never goes out. */
  acquire(): Permit {
    const s = this.s;
    if (s === CLOSED) return PERMIT;
    if (s.kind === 'open') return this.acquireOpen(s);
    if (s.kind === 'halfOpen') return this.acquireHalfOpen(s);
    return s.kind === 'forcedOpen' ? NO_PERMIT : PERMIT;
  }

  /** Gives back a permit whose call never went out: its probe slot and detect interval are freed. Nothing is recorded. */
  release(permit: Permit): void {
    const s = this.s;
    if (permit > PERMIT && s.kind === 'halfOpen') endProbe(s, permit, true, this.opts);
  }

  /** Records a success. `latencyMs` feeds slow-call tracking; `permit` identifies a probe. */
  succeed(latencyMs?: number, permit?: Permit): void {
    const s = this.s;
    if (s === CLOSED || s.kind === 'metricsOnly') {
      const slow = latencyMs !== undefined && latencyMs >= this.opts.slowCallDurationMs;
      const now = this.opts.now();
      this.win.recordSuccess(now, slow);
      if (this.link !== undefined) this.link.add(0, slow, now);
      if (slow && s === CLOSED) this.tripIfNeeded(undefined, now);
    } else if (s.kind === 'halfOpen') this.probeSucceeded(s, latencyMs, permit);
    // OPEN: late successes are not recorded (gopkg). Disabled and forced open record nothing.
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
   * Records an outcome by {@link ErrorType} (Kitex's `RecordStat`). `Ignorable` records nothing; a probe's
   * permit leaves the in-flight list but its detect interval stays taken (gopkg): no second probe at once.
   */
  record(type: ErrorType, latencyMs?: number, permit?: Permit): void {
    if (type === ErrorType.Success) this.succeed(latencyMs, permit);
    else if (type === ErrorType.Failure) this.fail(latencyMs, permit);
    else if (type === ErrorType.Timeout) this.timeout(latencyMs, permit);
    else if (permit !== undefined && permit > PERMIT && this.s.kind === 'halfOpen') {
      endProbe(this.s, permit, false, this.opts);
    }
  }

  /** Empties the window and returns a normal-mode breaker to CLOSED (forced modes stay); unlike gopkg, fires the handler. */
  reset(): void {
    const s = this.s;
    const snapshot = this.snapshot();
    this.win.reset();
    this.link?.resetWindow();
    if (s.kind !== 'open' && s.kind !== 'halfOpen') return;
    this.s = CLOSED;
    this.changed(stateOf(s), State.Closed, 'reset', 0, 0, snapshot);
  }

  /** Sets a forced mode (see {@link Mode}); `normal` resumes the state machine in CLOSED, keeping the window. */
  setMode(mode: Mode): void {
    const next = typeof mode === 'string' && Object.hasOwn(MODES, mode) ? MODES[mode] : undefined;
    if (next === undefined) {
      throw new OptionTypeError('mode', mode, `must be one of ${Object.keys(MODES).join(', ')}`);
    }
    const s = this.s;
    if (modeOf(s) === mode) return;
    this.s = next;
    if (stateOf(s) !== stateOf(next)) this.changed(stateOf(s), stateOf(next), 'mode', 0, 0);
  }

  /**
   * Runs `fn` if the breaker allows it and records how it ended: fulfilled is
   * a success, rejected a failure (or what `classify` says), `timeoutMs`
   * passing a timeout. When not allowed, rejects at once with a
   * {@link CircuitBreakerError} (no stack trace; one error and one handled
   * promise per state) and does not call `fn`. With `timeoutMs` or `signal`,
   * `fn` gets an abort signal and may declare `(signal: AbortSignal) =>`.
   */
  execute<T>(fn: SignalledExecutable<T>, options: SignalledExecuteOptions): Promise<T>;
  execute<T>(fn: Executable<T>, options?: ExecuteOptions): Promise<T>;
  execute<T>(fn: Executable<T> | SignalledExecutable<T>, options?: ExecuteOptions): Promise<T> {
    return execute(this, fn as Executable<T>, options);
  }

  /** The error a rejected call gets: one instance per state, without a stack trace. */
  rejectionError(): CircuitBreakerError {
    return this.rejection().error;
  }

  /** @internal The rejection of the current state, shared by every call it rejects. */
  rejection(): Rejection {
    const s = this.s;
    if (this.rejectedIn === s && this.rejected !== undefined) return this.rejected;
    this.rejectedIn = s;
    this.rejected = makeRejection(() => new CircuitBreakerError(this.key, stateOf(s), modeOf(s)));
    return this.rejected;
  }

  /** @internal The clock execute() measures latency with, when slow calls are tracked. */
  get latencyClock(): (() => number) | undefined {
    return this.opts.trackSlow ? this.opts.now : undefined;
  }

  /** For a synced breaker: the rest of the fleet's counts for this key, if still fresh. Undefined without a sync. */
  fleetView(): FleetView | undefined {
    return this.link?.freshView(this.opts.now());
  }

  /** When an OPEN breaker's cooling ends (local clock, ms); undefined in other states. */
  coolsAt(): number | undefined {
    const s = this.s;
    return s.kind === 'open' ? s.openedAt + s.coolingMs : undefined;
  }

  /** Whether the current OPEN or HALF_OPEN state is the fleet's (see {@link TransitionInfo.fleet}). */
  isFleetScoped(): boolean {
    const s = this.s;
    return (s.kind === 'open' || s.kind === 'halfOpen') && s.fleet;
  }

  /** Failed probes since the last close. */
  attempt(): number {
    const s = this.s;
    return s.kind === 'open' || s.kind === 'halfOpen' ? s.attempt : 0;
  }

  /**
   * For fleet syncs: the fleet opened this key with `remainingMs` (this node's
   * clock) of a `coolingMs` cooling left. Forced modes are left alone.
   * Returns whether the breaker changed.
   */
  applyFleetOpen(remainingMs: number, coolingMs: number, attempt: number): boolean {
    const s = this.s;
    if (s.kind !== 'closed' && s.kind !== 'open' && s.kind !== 'halfOpen') return false;
    const openedAt = this.opts.now() - Math.max(0, coolingMs - remainingMs);
    if (s.kind === 'open' && s.fleet && s.attempt === attempt && Math.abs(s.openedAt - openedAt) < 1) return false;
    this.s = openState(openedAt, coolingMs, attempt, true);
    if (s.kind !== 'open') this.changed(stateOf(s), State.Open, 'remote', attempt, coolingMs, undefined, true);
    return true;
  }

  /**
   * For fleet syncs: this node's own OPEN becomes the fleet's (the quorum's
   * reports came after its trip); the cooling goes on, no transition.
   * Returns whether the breaker changed.
   */
  promoteToFleet(): boolean {
    const s = this.s;
    if (s.kind !== 'open' || s.fleet) return false;
    this.s = openState(s.openedAt, s.coolingMs, s.attempt, true);
    return true;
  }

  /**
   * For fleet syncs: the fleet closed this key. Only a fleet-scoped OPEN or
   * HALF_OPEN closes (its window resets); a node's own OPEN runs its own
   * probes. Returns whether the breaker changed.
   */
  applyFleetClose(): boolean {
    const s = this.s;
    if ((s.kind !== 'open' && s.kind !== 'halfOpen') || !s.fleet) return false;
    this.close(s, 'remote', true);
    return true;
  }

  /** For fleet syncs: the configured trip func's verdict on `m`. */
  wouldTrip(m: Metricer): boolean {
    return tripFuncOf(this.key, this.opts)(m);
  }

  /** For fleet syncs: this breaker's outcomes over about the last `ms` (whole buckets, at most the window). */
  recentCounts(ms: number): RecentCounts {
    return this.win.recent(this.opts.now(), ms);
  }

  /** @internal For a panel: CLOSED in normal mode, so the breaker may be evicted. */
  isClosedNormal(): boolean {
    return this.s === CLOSED;
  }

  /** CLOSED in normal mode with an empty window: dropping the breaker loses nothing. */
  isIdle(): boolean {
    return this.s === CLOSED && this.win.isEmptyAt(this.opts.now());
  }

  private acquireOpen(s: Open): Permit {
    const now = this.opts.now();
    const link = this.link;
    if (link !== undefined) link.lastUsed = now;
    if (now < s.openedAt + s.coolingMs) return NO_PERMIT;
    // The fleet probes through one node at a time: the others keep rejecting.
    if (s.fleet && link !== undefined && !link.mayProbe()) return NO_PERMIT;
    const h = halfOpenWithProbe(s.attempt, s.fleet, now, this.opts);
    this.s = h;
    this.changed(State.Open, State.HalfOpen, 'cooled', s.attempt, 0, undefined, s.fleet);
    return h.lastProbeId;
  }

  private acquireHalfOpen(s: HalfOpen): Permit {
    const now = this.opts.now();
    if (this.link !== undefined) this.link.lastUsed = now;
    return admitProbe(s, now, this.opts);
  }

  private probeSucceeded(s: HalfOpen, latencyMs: number | undefined, permit: Permit | undefined): void {
    if (!takeProbe(s, permit, this.opts)) return;
    if (latencyMs !== undefined && latencyMs >= this.opts.slowCallDurationMs) {
      this.open(this.opts.now(), s.attempt + 1, 'probeFailed', s.fleet);
      return;
    }
    s.successes++;
    if (s.successes >= this.opts.halfOpenSuccesses) this.close(s, 'probeSucceeded', s.fleet);
  }

  private error(isTimeout: boolean, trip: TripFunc | undefined, latencyMs: number | undefined, permit?: Permit): void {
    const s = this.s;
    if (s.kind === 'disabled' || s.kind === 'forcedOpen') return;
    const now = this.opts.now();
    const slow = latencyMs !== undefined && latencyMs >= this.opts.slowCallDurationMs;
    if (isTimeout) this.win.recordTimeout(now, slow);
    else this.win.recordFailure(now, slow);
    this.link?.add(isTimeout ? 2 : 1, slow, now);
    if (s === CLOSED) this.tripIfNeeded(trip, now);
    else if (s.kind === 'halfOpen' && takeProbe(s, permit, this.opts)) {
      this.open(now, s.attempt + 1, 'probeFailed', s.fleet);
    }
  }

  // A synced breaker asks its link what a trip opens: nothing, this node
  // alone, or the key for the fleet (see FleetLink.tripScope).
  private tripIfNeeded(trip: TripFunc | undefined, now: number): void {
    const f = trip ?? tripFuncOf(this.key, this.opts);
    const link = this.link;
    if (link === undefined) {
      if (f(this.win)) this.open(now, 0, 'trip', false);
      return;
    }
    const scope = link.tripScope(f, this.win, now);
    if (scope !== 'none') this.open(now, 0, 'trip', scope === 'fleet');
  }

  private open(now: number, attempt: number, cause: TransitionCause, fleet: boolean): void {
    const from = stateOf(this.s);
    const coolingMs = coolingFor(attempt, this.opts);
    this.s = openState(now, coolingMs, attempt, fleet);
    this.changed(from, State.Open, cause, attempt, coolingMs, undefined, fleet);
  }

  // Back to CLOSED with an empty window: the outcomes of the episode that
  // ended must not count toward the next trip.
  private close(s: Open | HalfOpen, cause: TransitionCause, fleet: boolean): void {
    const snapshot = this.snapshot();
    this.win.reset();
    this.link?.resetWindow();
    this.s = CLOSED;
    this.changed(stateOf(s), State.Closed, cause, s.attempt, 0, snapshot, fleet);
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
    if (this.onChange === undefined) return;
    const info: TransitionInfo = Object.freeze({ cause, attempt, coolingMs, fleet });
    notify(this.onChange, this.key, from, to, snapshot ?? MetricsSnapshot.of(this.win), info, this.opts.onHandlerError);
  }
}

import { constants as http2 } from 'node:http2';
import { type Breaker, NO_PERMIT, PERMIT, type Permit } from '@cbsuite/core';
import { type experimental, Metadata, type StatusObject } from '@grpc/grpc-js';
import type { AttemptTransport, CallState, PendingProbe, StreamEnd } from './call-registry.js';
import { circuitBreakStatus } from './circuit-break-error.js';
import type { InstanceLevel } from './instance-level.js';

type X = typeof experimental;

const OK: StatusObject['code'] = 0;

/**
 * Wraps the child's picker: asks each picked instance's breaker before
 * returning the pick. A tripped instance (or one this call already tried) is
 * skipped and the child asked again, up to `max(6, 2 × endpoints)` picks
 * (Kitex's resolve loop makes 6 and may pick a tried instance again). When
 * every candidate is tripped the call is dropped: it fails at once with
 * `UNAVAILABLE` and the instance marker, and grpc-js does not retry it.
 * An instance outlier ejection ejected is skipped like a tripped one. While
 * the level is in panic (`panicThreshold`), the child's pick is used even
 * when its breaker refuses (unless forced open), and recorded as usual; an
 * ejected instance stays skipped, since ejections are capped and cannot
 * empty the pool. With `healthCheck`, a half-open instance's probe
 * permit goes to a health check and the pick is skipped.
 */
export class BreakerPicker implements experimental.Picker {
  // grpc-js exports its enums through getters: read once, not per pick.
  private readonly complete: experimental.PickResultType;
  private readonly drop: experimental.PickResultType;
  private readonly picks: number;

  constructor(
    private readonly child: experimental.Picker,
    private readonly level: InstanceLevel,
    endpoints: number,
    x: X,
  ) {
    this.complete = x.PickResultType.COMPLETE;
    this.drop = x.PickResultType.DROP;
    this.picks = Math.max(6, 2 * endpoints);
  }

  pick(args: experimental.PickArgs): experimental.PickResult {
    const level = this.level;
    // grpc-js picks again when a picked subchannel stopped being READY before
    // the attempt started: take() gives back the probe that pick took.
    const state = level.calls.take(args.metadata);
    let triedAgain: experimental.PickResult | undefined;
    for (let i = 0; i < this.picks; i++) {
      const r = this.child.pick(args);
      if (r.pickResultType !== this.complete || r.subchannel === null) return r;
      const addr = r.subchannel.getAddress();
      if (state?.hasTried(addr)) {
        triedAgain ??= r;
        continue;
      }
      const picked = this.admit(r, r.subchannel, addr, state);
      if (picked !== undefined) return picked;
    }
    // Every instance not yet tried is tripped: go back to one already tried, if it is allowed (never for a hedge).
    if (triedAgain?.subchannel && state?.hedge !== true) {
      const sc = triedAgain.subchannel;
      const picked = this.admit(triedAgain, sc, sc.getAddress(), state);
      if (picked !== undefined) return picked;
    }
    // A hedge with no instance left to go to is not a drop: the call's other attempts still run.
    if (state?.hedge !== true) level.dropped();
    return {
      pickResultType: this.drop,
      subchannel: null,
      status: circuitBreakStatus('instance', undefined) as StatusObject,
      onCallStarted: null,
      onCallEnded: null,
    };
  }

  /**
   * The pick `r` of `addr`, wrapped, when the instance may take the call:
   * not ejected (ejections are capped by maxEjectionPercent and cannot empty
   * the pool, so panic does not override them), and its breaker gives a
   * permit a health check does not take, or the level is in panic. Else
   * undefined: the pick is skipped.
   */
  private admit(
    r: experimental.PickResult,
    subchannel: experimental.SubchannelInterface,
    addr: string,
    state: CallState | undefined,
  ): experimental.PickResult | undefined {
    const level = this.level;
    if (level.isEjected(addr)) return undefined;
    const breaker = level.level.breakerFor(addr);
    const permit = breaker === undefined ? PERMIT : level.level.admit(breaker);
    if (permit === PERMIT || (permit !== NO_PERMIT && !level.probedByHealth(addr, breaker, permit, subchannel)))
      return this.wrap(r, subchannel, addr, breaker, permit, state);
    if (level.panic.inPanic && level.usableInPanic(breaker))
      return this.wrap(r, subchannel, addr, breaker, PERMIT, state);
    return undefined;
  }

  private wrap(
    r: experimental.PickResult,
    subchannel: experimental.SubchannelInterface,
    addr: string,
    breaker: Breaker | undefined,
    permit: Permit,
    state: CallState | undefined,
  ): experimental.PickResult {
    const view = new AttemptView(subchannel, state?.pickedOn(addr, breaker, permit), r);
    view.recordOn(this.level, addr, breaker, permit, state);
    if (state !== undefined) state.transport = view;
    return view;
  }
}

type SubchannelInterface = experimental.SubchannelInterface;
type RealSubchannel = ReturnType<SubchannelInterface['getRealSubchannel']>;
type CallListener = Parameters<RealSubchannel['createCall']>[3];
type SubchannelCall = ReturnType<RealSubchannel['createCall']>;
type Arg<K extends keyof SubchannelInterface, I extends number = 0> = SubchannelInterface[K] extends (
  ...a: infer A
) => unknown
  ? A[I]
  : never;

/**
 * The picked subchannel `sc`, seen for one attempt through a view whose call
 * notes that it started (and marks `probe` started) and how its stream
 * ended. Everything else is the subchannel's own. The load-balancing call
 * asks the real subchannel for a call once per pick, so the view lives one
 * attempt, and is that attempt's {@link AttemptTransport}.
 *
 * grpc-js tracks the facts but does not hand them to interceptors: a stream
 * reset carries its `rstCode` on the subchannel call's status; a lost
 * connection calls the subchannel call's `onDisconnect` (1.12+); a cancel or
 * deadline calls its `cancelWithStatus`. A status that came any other way
 * came in the server's trailers.
 */
export function observeSubchannel(
  sc: SubchannelInterface,
  probe?: PendingProbe,
): SubchannelInterface & AttemptTransport {
  return new AttemptView(sc, probe);
}

/**
 * A class of its own that forwards, not `Object.create(sc)`: V8 gives an
 * object used as a prototype a map of its own, and every later write to a
 * field of it (grpc-js's subchannels and their wrappers change state on
 * every call) invalidates the inline caches of all code that reads through
 * it. grpc-js's load-balancing call (1.10 … 1.14) asks a pick's subchannel
 * for its state, channelz ref, address, call credentials and real
 * subchannel, and the real subchannel only for `createCall`: the view is its
 * own real subchannel, and the listener of the call it makes. It is also the
 * pick result grpc-js gets, so one object per attempt serves all four (and
 * holds what the transport saw), with one closure for `onCallEnded`.
 */
class AttemptView implements SubchannelInterface, AttemptTransport, CallListener, experimental.PickResult {
  readonly picked = true;
  started = false;
  end: StreamEnd | undefined = undefined;
  endStatus: StatusObject | undefined = undefined;
  private listener: CallListener | undefined = undefined;
  // The pick result grpc-js gets, as well: the child's, with this view as its subchannel.
  readonly pickResultType: experimental.PickResultType;
  readonly subchannel: SubchannelInterface = this;
  readonly status: StatusObject | null;
  readonly onCallStarted: (() => void) | null;
  onCallEnded: ((code: StatusObject['code'], details: string, metadata: Metadata) => void) | null = null;
  // What the end of the attempt is recorded with (recordOn).
  private level: InstanceLevel | undefined = undefined;
  private addr = '';
  private breaker: Breaker | undefined = undefined;
  private permit: Permit = PERMIT;
  private state: CallState | undefined = undefined;
  private pickedAt = 0;
  private readonly childEnded: experimental.PickResult['onCallEnded'];

  constructor(
    private readonly sc: SubchannelInterface,
    /** The half-open probe the pick took, marked started with the attempt. */
    private readonly probe?: PendingProbe,
    /** The child's pick of `sc`. */
    child?: experimental.PickResult,
  ) {
    this.pickResultType = child?.pickResultType ?? 0;
    this.status = child?.status ?? null;
    this.onCallStarted = child?.onCallStarted ?? null;
    this.childEnded = child?.onCallEnded ?? null;
  }

  /** Records the attempt's end on `level` (the breaker of `addr`, with `permit`), then tells the child. */
  recordOn(
    level: InstanceLevel,
    addr: string,
    breaker: Breaker | undefined,
    permit: Permit,
    state: CallState | undefined,
  ): void {
    this.level = level;
    this.addr = addr;
    this.breaker = breaker;
    this.permit = permit;
    this.state = state;
    const clock = level.latencyClock;
    if (clock !== undefined) this.pickedAt = clock();
    // grpc-js calls onCallEnded as a method of its own call: a closure, the one per attempt.
    this.onCallEnded = (code, details, metadata) => this.ended(code, details, metadata);
  }

  private ended(code: StatusObject['code'], details: string, metadata: Metadata): void {
    const level = this.level as InstanceLevel;
    const clock = level.latencyClock;
    const latency = clock === undefined ? undefined : clock() - this.pickedAt;
    if (code === OK && level.level.okIsSuccess) level.recordSuccess(this.addr, this.breaker, this.permit, latency);
    else
      level.recordAttempt(
        this.addr,
        this.breaker,
        this.permit,
        this.statusFor(code, details, metadata),
        this.state,
        latency,
        this.end,
      );
    this.childEnded?.(code, details, metadata);
  }

  /**
   * The status grpc-js ended the attempt with (`onCallEnded` gets its parts):
   * the subchannel call's own when it is that one, so not copied
   * (grpc-js ≤ 1.13 gives onCallEnded only the code).
   */
  statusFor(code: StatusObject['code'], details?: string, metadata?: Metadata): StatusObject {
    const seen = this.endStatus;
    if (seen !== undefined && seen.code === code && (details === undefined || seen.details === details)) return seen;
    if (details !== undefined) return { code, details, metadata: metadata ?? new Metadata() };
    return { code, details: '', metadata: new Metadata() };
  }

  getRealSubchannel(): RealSubchannel {
    return this as unknown as RealSubchannel;
  }

  createCall(
    metadata: Metadata,
    host: string,
    method: string,
    listener: CallListener,
    callId?: number,
  ): SubchannelCall {
    this.end = undefined;
    this.listener = listener;
    // grpc-js before 1.14 takes four arguments: the fifth is then ignored.
    const real = this.sc.getRealSubchannel() as unknown as {
      createCall(m: Metadata, h: string, me: string, l: CallListener, id?: number): SubchannelCall;
    };
    const call = real.createCall(metadata, host, method, this, callId);
    hookCall(call, this);
    this.started = true;
    if (this.probe !== undefined) this.probe.started = true;
    return call;
  }

  onReceiveMetadata(metadata: Metadata): void {
    this.listener?.onReceiveMetadata(metadata);
  }

  onReceiveMessage(message: Parameters<CallListener['onReceiveMessage']>[0]): void {
    this.listener?.onReceiveMessage(message);
  }

  onReceiveStatus(status: StatusObject & { rstCode?: number }): void {
    this.endStatus = status;
    if (this.end === undefined) {
      if (status.rstCode === undefined) this.end = 'server';
      else this.end = status.rstCode === http2.NGHTTP2_REFUSED_STREAM ? 'refused' : 'reset';
    }
    this.listener?.onReceiveStatus(status);
  }

  getConnectivityState(): ReturnType<SubchannelInterface['getConnectivityState']> {
    return this.sc.getConnectivityState();
  }
  addConnectivityStateListener(listener: Arg<'addConnectivityStateListener'>): void {
    this.sc.addConnectivityStateListener(listener);
  }
  removeConnectivityStateListener(listener: Arg<'removeConnectivityStateListener'>): void {
    this.sc.removeConnectivityStateListener(listener);
  }
  startConnecting(): void {
    this.sc.startConnecting();
  }
  getAddress(): string {
    return this.sc.getAddress();
  }
  throttleKeepalive(newKeepaliveTime: number): void {
    this.sc.throttleKeepalive(newKeepaliveTime);
  }
  ref(): void {
    this.sc.ref();
  }
  unref(): void {
    this.sc.unref();
  }
  getChannelzRef(): ReturnType<SubchannelInterface['getChannelzRef']> {
    return this.sc.getChannelzRef();
  }
  isHealthy(): boolean {
    return this.sc.isHealthy();
  }
  addHealthStateWatcher(listener: Arg<'addHealthStateWatcher'>): void {
    this.sc.addHealthStateWatcher(listener);
  }
  removeHealthStateWatcher(listener: Arg<'removeHealthStateWatcher'>): void {
    this.sc.removeHealthStateWatcher(listener);
  }
  addDataWatcher(dataWatcher: Arg<'addDataWatcher'>): void {
    this.sc.addDataWatcher(dataWatcher);
  }
  realSubchannelEquals(other: SubchannelInterface): boolean {
    return this.sc.realSubchannelEquals(other);
  }
  getCallCredentials(): ReturnType<SubchannelInterface['getCallCredentials']> {
    return this.sc.getCallCredentials();
  }
  getChannel(): ReturnType<SubchannelInterface['getChannel']> {
    return this.sc.getChannel();
  }
}

type Hooked = Record<string | symbol, unknown> & {
  listener?: unknown;
  onDisconnect?: unknown;
  cancelWithStatus?: unknown;
};
type Method = (this: Hooked, ...args: unknown[]) => unknown;

const ORIGINAL_DISCONNECT = Symbol('cbsuite.onDisconnect');
const ORIGINAL_CANCEL = Symbol('cbsuite.cancelWithStatus');
// Set on a prototype this copy of the package covered. Another copy may
// cover it after, on top: each copy covers a class once.
const COVERED = Symbol('cbsuite.covered');

// Notes on `call` how its stream ended when grpc-js ends it from its side,
// by its onDisconnect and cancelWithStatus. grpc-js's subchannel calls keep
// the listener they were made with, here the view, in `listener`, and have
// both methods on their class: the class's two methods are covered once, by
// functions that note the end on the view of the call they run for and run
// the method they cover (for a call of any other channel, only the latter).
// Adding fields to every call cost about 14 ns per attempt (measured on the
// picker with a stub call). A call of any other shape gets covers of its own.
function hookCall(call: SubchannelCall, view: AttemptView): void {
  const c = call as unknown as Hooked;
  if (c.listener === view && (c[COVERED] === true || coverClass(c))) return;
  const disconnected = c.onDisconnect;
  if (typeof disconnected === 'function') c.onDisconnect = covering(c, disconnected as Method, view, 'disconnect');
  const cancelled = c.cancelWithStatus;
  if (typeof cancelled === 'function') c.cancelWithStatus = covering(c, cancelled as Method, view, 'local');
}

// Covers the two methods on the prototype of `c`, when both are its
// prototype's own and can be replaced; false (and nothing changed) if not.
function coverClass(c: Hooked): boolean {
  const proto = Object.getPrototypeOf(c) as Hooked | null;
  if (proto === null || c.onDisconnect !== proto.onDisconnect || c.cancelWithStatus !== proto.cancelWithStatus)
    return false;
  const disconnect = Object.getOwnPropertyDescriptor(proto, 'onDisconnect');
  const cancel = Object.getOwnPropertyDescriptor(proto, 'cancelWithStatus');
  const replaceable = (d: PropertyDescriptor | undefined) =>
    d !== undefined && typeof d.value === 'function' && d.writable === true && d.configurable === true;
  if (!replaceable(disconnect) || !replaceable(cancel) || !Object.isExtensible(proto)) return false;
  proto[ORIGINAL_DISCONNECT] = disconnect?.value;
  proto[ORIGINAL_CANCEL] = cancel?.value;
  proto.onDisconnect = onDisconnect;
  proto.cancelWithStatus = cancelWithStatus;
  proto[COVERED] = true;
  return true;
}

// A method of `c`'s own, covered by one that notes `end` on `view` first.
function covering(c: Hooked, covered: Method, view: AttemptView, end: StreamEnd): Method {
  return (...args: unknown[]) => {
    view.end ??= end;
    return covered.apply(c, args);
  };
}

function onDisconnect(this: Hooked): unknown {
  const view = this.listener;
  if (view instanceof AttemptView) view.end ??= 'disconnect';
  return (this[ORIGINAL_DISCONNECT] as Method).call(this);
}

function cancelWithStatus(this: Hooked, code: unknown, details: unknown): unknown {
  const view = this.listener;
  if (view instanceof AttemptView) view.end ??= 'local';
  return (this[ORIGINAL_CANCEL] as Method).call(this, code, details);
}

import { constants as http2 } from 'node:http2';
import { type Breaker, NO_PERMIT, PERMIT, type Permit } from '@cbsuite/core';
import { type experimental, Metadata, type StatusObject } from '@grpc/grpc-js';
import {
  type AttemptTransport,
  type CallState,
  newAttemptTransport,
  type PendingProbe,
  type StreamEnd,
} from './call-registry.js';
import { circuitBreakStatus } from './circuit-break-error.js';
import type { InstanceLevel } from './instance-level.js';

type X = typeof experimental;

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
    const level = this.level;
    const clock = level.latencyClock;
    const pickedAt = clock === undefined ? 0 : clock();
    const probe = state?.pickedOn(addr, breaker, permit);
    const childStarted = r.onCallStarted;
    const childEnded = r.onCallEnded;
    // What the transport saw of the attempt: how its stream ended, and its
    // whole status (grpc-js ≤ 1.13 gives onCallEnded only the code).
    const t = state?.transport ?? newAttemptTransport();
    // The view notes the start (grpc-js starts the attempt right after its
    // createCall returns), so a pick costs one closure, not two.
    return {
      pickResultType: r.pickResultType,
      subchannel: new ObservedSubchannel(subchannel, t, probe),
      status: r.status,
      onCallStarted: childStarted === null ? null : () => childStarted(),
      onCallEnded: (code, details, metadata) => {
        const latency = clock === undefined ? undefined : clock() - pickedAt;
        // The subchannel call's own status, when it is the one grpc-js reports: no copy.
        const seen = t.status;
        let status: StatusObject;
        if (seen !== undefined && seen.code === code && (details === undefined || seen.details === details))
          status = seen;
        else if (details !== undefined) status = { code, details, metadata };
        else status = { code, details: '', metadata: new Metadata() };
        level.recordAttempt(addr, breaker, permit, status, state, latency, t.end);
        childEnded?.(code, details, metadata);
      },
    };
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
 * The picked subchannel `sc`, seen for one attempt through a view whose calls
 * report into `t` that they started (and mark `probe` started) and how their
 * stream ended. Everything else is the subchannel's own. The load-balancing
 * call asks the real subchannel for a call once per pick, so the view lives
 * one attempt.
 *
 * grpc-js tracks the facts but does not hand them to interceptors: a stream
 * reset carries its `rstCode` on the subchannel call's status; a lost
 * connection calls the subchannel call's `onDisconnect` (1.12+); a cancel or
 * deadline calls its `cancelWithStatus`. A status that came any other way
 * came in the server's trailers.
 */
export function observeSubchannel(
  sc: SubchannelInterface,
  t: AttemptTransport,
  probe?: PendingProbe,
): SubchannelInterface {
  return new ObservedSubchannel(sc, t, probe);
}

/**
 * A class of its own that forwards, not `Object.create(sc)`: V8 gives an
 * object used as a prototype a map of its own, and every later write to a
 * field of it (grpc-js's subchannels and their wrappers change state on
 * every call) invalidates the inline caches of all code that reads through
 * it. grpc-js's load-balancing call (1.10 … 1.14) asks a pick's subchannel
 * for its state, channelz ref, address, call credentials and real
 * subchannel, and the real subchannel only for `createCall`: the view is its
 * own real subchannel, so one object per attempt serves both.
 */
class ObservedSubchannel implements SubchannelInterface {
  constructor(
    private readonly sc: SubchannelInterface,
    private readonly t: AttemptTransport,
    /** The half-open probe the pick took, marked started with the attempt. */
    private readonly probe?: PendingProbe,
  ) {}

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
    const t = this.t;
    t.end = undefined;
    // grpc-js before 1.14 takes four arguments: the fifth is then ignored.
    const real = this.sc.getRealSubchannel() as unknown as {
      createCall(m: Metadata, h: string, me: string, l: CallListener, id?: number): SubchannelCall;
    };
    const call = real.createCall(metadata, host, method, new StatusListener(listener, t), callId);
    hookCall(call, t);
    t.started = true;
    if (this.probe !== undefined) this.probe.started = true;
    return call;
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

// One object per call that forwards the listener's three methods, not
// Object.create(listener) (V8 makes an object used as a prototype slow to
// create and to read) nor three closures.
class StatusListener implements CallListener {
  constructor(
    private readonly listener: CallListener,
    private readonly t: AttemptTransport,
  ) {}

  onReceiveMetadata(metadata: Metadata): void {
    this.listener.onReceiveMetadata(metadata);
  }

  onReceiveMessage(message: Parameters<CallListener['onReceiveMessage']>[0]): void {
    this.listener.onReceiveMessage(message);
  }

  onReceiveStatus(status: StatusObject & { rstCode?: number }): void {
    const t = this.t;
    t.status = status;
    if (t.end === undefined) {
      if (status.rstCode === undefined) t.end = 'server';
      else t.end = status.rstCode === http2.NGHTTP2_REFUSED_STREAM ? 'refused' : 'reset';
    }
    this.listener.onReceiveStatus(status);
  }
}

const TRANSPORT = Symbol('cbsuite.attemptTransport');

type Hooked = Record<string | symbol, unknown> & { [TRANSPORT]: AttemptTransport };
type Method = (this: Hooked, ...args: unknown[]) => unknown;

// Notes on `call` how its stream ended when grpc-js ends it from its side:
// its onDisconnect and cancelWithStatus become own properties that note the
// end and run the method they cover. grpc-js's calls have both on their
// prototype, so the two functions below serve every call: a call costs one
// field and no closure. Written out per method, not by a helper taking the
// name: keyed reads and writes with a name that varies cost about 45 ns per
// attempt more than named ones (measured on the picker with a stub call).
function hookCall(call: SubchannelCall, t: AttemptTransport): void {
  const c = call as unknown as Hooked & { onDisconnect?: unknown; cancelWithStatus?: unknown };
  const proto = Object.getPrototypeOf(c) as { onDisconnect?: unknown; cancelWithStatus?: unknown } | null;
  c[TRANSPORT] = t;
  const disconnected = c.onDisconnect;
  if (typeof disconnected === 'function')
    c.onDisconnect =
      disconnected === proto?.onDisconnect ? onDisconnect : covering(c, disconnected as Method, 'disconnect');
  const cancelled = c.cancelWithStatus;
  if (typeof cancelled === 'function')
    c.cancelWithStatus =
      cancelled === proto?.cancelWithStatus ? cancelWithStatus : covering(c, cancelled as Method, 'local');
}

// A method of `c`'s own (not its prototype's), covered by one that notes `end` first.
function covering(c: Hooked, covered: Method, end: StreamEnd): Method {
  return (...args: unknown[]) => {
    c[TRANSPORT].end ??= end;
    return covered.apply(c, args);
  };
}

function onDisconnect(this: Hooked): unknown {
  this[TRANSPORT].end ??= 'disconnect';
  return (Object.getPrototypeOf(this).onDisconnect as Method).call(this);
}

function cancelWithStatus(this: Hooked, code: unknown, details: unknown): unknown {
  this[TRANSPORT].end ??= 'local';
  return (Object.getPrototypeOf(this).cancelWithStatus as Method).call(this, code, details);
}

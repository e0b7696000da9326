import { constants as http2 } from 'node:http2';
import type { experimental, Metadata, StatusObject } from '@grpc/grpc-js';
import type { AttemptTransport, StreamEnd } from './attempt-transport.js';

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
 * report into `t` how their stream ended. Everything else is the
 * subchannel's own. The load-balancing call asks the real subchannel for a
 * call once per pick, so the view lives one attempt.
 *
 * grpc-js tracks the facts but does not hand them to interceptors: a stream
 * reset carries its `rstCode` on the subchannel call's status; a lost
 * connection calls the subchannel call's `onDisconnect` (1.12+); a cancel or
 * deadline calls its `cancelWithStatus`. A status that came any other way
 * came in the server's trailers.
 */
export function observeSubchannel(sc: SubchannelInterface, t: AttemptTransport): SubchannelInterface {
  return new ObservedSubchannel(sc, t);
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
// field and no closure.
function hookCall(call: SubchannelCall, t: AttemptTransport): void {
  const c = call as unknown as Hooked;
  const proto = Object.getPrototypeOf(c) as Record<string, unknown> | null;
  c[TRANSPORT] = t;
  hook(c, proto, 'onDisconnect', onDisconnect, 'disconnect');
  hook(c, proto, 'cancelWithStatus', cancelWithStatus, 'local');
}

function hook(
  c: Hooked,
  proto: Record<string, unknown> | null,
  name: 'onDisconnect' | 'cancelWithStatus',
  shared: Method,
  end: StreamEnd,
): void {
  const covered = c[name];
  if (typeof covered !== 'function') return;
  if (covered === proto?.[name]) c[name] = shared;
  else
    c[name] = (...args: unknown[]) => {
      c[TRANSPORT].end ??= end;
      return (covered as Method).apply(c, args);
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

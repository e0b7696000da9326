// A picker the instance-level pick benchmark measures the suite's picker
// against: the least that a breaker picker costs which, as the suite's retries
// on another instance need, hears how each attempt's stream ended before the
// caller's interceptors get its status. Not a product.
import { type Breaker, NO_PERMIT, type Panel, PERMIT, type Permit } from '@cbsuite/core';
import { grpc } from '@cbsuite/testkit/echo.js';
import { DROP, type Listener, recorder } from './scale-pickers.js';

type Picker = grpc.experimental.Picker;
type PickResult = grpc.experimental.PickResult;
type SubchannelInterface = grpc.experimental.SubchannelInterface;
type RealCall = { createCall(m: grpc.Metadata, h: string, me: string, l: Listener): unknown };

const OK = grpc.status.OK;

/**
 * One call's record, across its attempts, made by the caller (as the suite's
 * interceptor makes its call state) and handed to the picker as the options
 * of the call's metadata. It is also the listener of its current attempt's
 * subchannel call, so it hears the stream's end (the status with its
 * `rstCode`) first, and records the attempt on the breaker it was picked
 * with. Tried instances, the attempt's breaker and permit, whether it started
 * and how it ended: no probe, latency, ejection or panic bookkeeping.
 */
export class AttemptCall implements Listener {
  private first: string | undefined = undefined;
  private more: string[] | undefined = undefined;
  at: Endpoint | undefined = undefined;
  private permit: Permit = PERMIT;
  private listener: Listener | undefined = undefined;
  started = false;
  end: 'server' | 'reset' | undefined = undefined;

  hasTried(addr: string): boolean {
    return this.first === addr || (this.more !== undefined && this.more.includes(addr));
  }

  pickedOn(ep: Endpoint, permit: Permit): void {
    if (this.first === undefined) this.first = ep.addr;
    else if (this.more === undefined) this.more = [ep.addr];
    else this.more.push(ep.addr);
    this.at = ep;
    this.permit = permit;
    this.started = false;
    this.end = undefined;
  }

  startedWith(listener: Listener): void {
    this.listener = listener;
    this.started = true;
  }

  onReceiveMetadata(m: grpc.Metadata): void {
    this.listener?.onReceiveMetadata(m);
  }
  onReceiveMessage(m: unknown): void {
    this.listener?.onReceiveMessage(m);
  }
  onReceiveStatus(s: grpc.StatusObject & { rstCode?: number }): void {
    this.end = s.rstCode === undefined ? 'server' : 'reset';
    const breaker = (this.at as Endpoint).breaker;
    if (s.code === OK) breaker.succeed(undefined, this.permit);
    else breaker.fail(undefined, this.permit);
    this.listener?.onReceiveStatus(s);
  }
}

/**
 * A subchannel as the picker's policy hands it to its child: made once per
 * subchannel, it holds the address's breaker, a function recording an
 * untracked attempt on it, and, as the real subchannel grpc-js asks for a
 * call, starts a tracked attempt's call with the call's record as listener.
 */
export class Endpoint {
  readonly addr: string;
  readonly breaker: Breaker;
  readonly ended: (code: grpc.status) => void;

  constructor(
    private readonly sc: SubchannelInterface,
    panel: Panel,
  ) {
    this.addr = sc.getAddress();
    const breaker = panel.getBreaker(this.addr);
    this.breaker = breaker;
    this.ended = recorder(breaker);
  }

  createCall(m: grpc.Metadata, h: string, me: string, l: Listener): unknown {
    const call = m.getOptions();
    const real = this.sc.getRealSubchannel() as unknown as RealCall;
    if (!(call instanceof AttemptCall) || call.at !== this) return real.createCall(m, h, me, l);
    const started = real.createCall(m, h, me, call);
    call.startedWith(l);
    return started;
  }

  getRealSubchannel(): this {
    return this;
  }
  getAddress(): string {
    return this.addr;
  }
  getConnectivityState(): grpc.connectivityState {
    return this.sc.getConnectivityState();
  }
  addConnectivityStateListener(l: grpc.experimental.ConnectivityStateListener): void {
    this.sc.addConnectivityStateListener(l);
  }
  removeConnectivityStateListener(l: grpc.experimental.ConnectivityStateListener): void {
    this.sc.removeConnectivityStateListener(l);
  }
  startConnecting(): void {
    this.sc.startConnecting();
  }
  ref(): void {
    this.sc.ref();
  }
  unref(): void {
    this.sc.unref();
  }
  isHealthy(): boolean {
    return this.sc.isHealthy();
  }
  realSubchannelEquals(other: SubchannelInterface): boolean {
    return this.sc.realSubchannelEquals(other);
  }
  getChannelzRef(): ReturnType<SubchannelInterface['getChannelzRef']> {
    return this.sc.getChannelzRef();
  }
  addHealthStateWatcher(w: Parameters<SubchannelInterface['addHealthStateWatcher']>[0]): void {
    this.sc.addHealthStateWatcher(w);
  }
  removeHealthStateWatcher(w: Parameters<SubchannelInterface['removeHealthStateWatcher']>[0]): void {
    this.sc.removeHealthStateWatcher(w);
  }
  addDataWatcher(w: Parameters<SubchannelInterface['addDataWatcher']>[0]): void {
    this.sc.addDataWatcher(w);
  }
  throttleKeepalive(ms: number): void {
    this.sc.throttleKeepalive(ms);
  }
  getCallCredentials(): ReturnType<SubchannelInterface['getCallCredentials']> {
    return this.sc.getCallCredentials();
  }
  getChannel(): ReturnType<SubchannelInterface['getChannel']> {
    return this.sc.getChannel();
  }
}

/**
 * Asks the picked instance's breaker (held by its {@link Endpoint}, no
 * lookup), skips an instance the call has tried, and notes the pick on the
 * call's {@link AttemptCall}, which then hears the attempt's stream as its
 * subchannel call's listener; an untracked attempt gets the endpoint's
 * recording function as its onCallEnded. Nothing is allocated per attempt.
 */
export class CallViewPicker implements Picker {
  private readonly complete = grpc.experimental.PickResultType.COMPLETE;

  constructor(private readonly child: Picker) {}

  pick(args: grpc.experimental.PickArgs): PickResult {
    const options = args.metadata.getOptions();
    const call = options instanceof AttemptCall ? options : undefined;
    for (let i = 0; i < 6; i++) {
      const r = this.child.pick(args);
      if (r.pickResultType !== this.complete || r.subchannel === null) return r;
      const ep = r.subchannel.getRealSubchannel() as unknown as Endpoint;
      if (call?.hasTried(ep.addr)) continue;
      const permit = ep.breaker.acquire();
      if (permit === NO_PERMIT) continue;
      if (call !== undefined) call.pickedOn(ep, permit);
      else if (r.onCallEnded === null) (r as { onCallEnded: PickResult['onCallEnded'] }).onCallEnded = ep.ended;
      return r;
    }
    return DROP;
  }
}

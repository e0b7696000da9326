// Pickers the instance-level pick benchmark measures the suite's picker
// against, for scale. Neither is a product: each shows what a picker that
// asks a Kitex breaker per attempt costs when it does less than the suite's.
import { type Breaker, NO_PERMIT, type Panel, type Permit } from '@cbsuite/core';
import { grpc } from '@cbsuite/testkit/echo.js';

type Picker = grpc.experimental.Picker;
type PickResult = grpc.experimental.PickResult;
/** What grpc-js's subchannel call tells its listener (the parts a picker's view forwards). */
export type Listener = {
  onReceiveMetadata(m: grpc.Metadata): void;
  onReceiveMessage(m: unknown): void;
  onReceiveStatus(s: grpc.StatusObject): void;
};

const OK = grpc.status.OK;

/**
 * A breaker picker with a view per attempt: one breaker asked at the pick
 * (looked up by address), a view that is its call's listener and the pick
 * result, and the outcome recorded at the end. No call state, tried list,
 * ejection, panic, probe or stream-end bookkeeping.
 */
export class ViewPicker implements Picker {
  constructor(
    private readonly child: Picker,
    private readonly panel: Panel,
  ) {}

  pick(args: grpc.experimental.PickArgs): PickResult {
    const r = this.child.pick(args);
    const sc = r.subchannel;
    if (sc === null) return r;
    const breaker = this.panel.getBreaker(sc.getAddress());
    return new View(sc, r.pickResultType, recorder(breaker, breaker.acquire())) as unknown as PickResult;
  }
}

/**
 * A function recording an attempt's final code on `breaker`, with the
 * attempt's `permit` (none: a plain permit). Returned, not assigned: tsx keeps
 * the names of functions (esbuild's keepNames), and a function given a name
 * where it is made, as an object literal's property is, costs a
 * defineProperty each time it is made (about 300 ns here).
 */
export function recorder(breaker: Breaker, permit?: Permit): (code: grpc.status) => void {
  return (code) => {
    if (code === OK) breaker.succeed(undefined, permit);
    else breaker.fail(undefined, permit);
  };
}

class View implements Listener {
  started = false;
  endStatus: grpc.StatusObject | undefined = undefined;
  private listener: Listener | undefined = undefined;
  readonly subchannel = this;
  readonly status = null;
  readonly onCallStarted = null;
  constructor(
    private readonly sc: grpc.experimental.SubchannelInterface,
    readonly pickResultType: grpc.experimental.PickResultType,
    readonly onCallEnded: (code: grpc.status) => void,
  ) {}
  getRealSubchannel(): this {
    return this;
  }
  onReceiveMetadata(m: grpc.Metadata): void {
    this.listener?.onReceiveMetadata(m);
  }
  onReceiveMessage(m: unknown): void {
    this.listener?.onReceiveMessage(m);
  }
  onReceiveStatus(s: grpc.StatusObject): void {
    this.endStatus = s;
    this.listener?.onReceiveStatus(s);
  }
  createCall(m: grpc.Metadata, h: string, me: string, l: Listener): unknown {
    this.listener = l;
    const real = this.sc.getRealSubchannel() as unknown as {
      createCall(m: grpc.Metadata, h: string, me: string, l: unknown): unknown;
    };
    const call = real.createCall(m, h, me, this);
    this.started = true;
    return call;
  }
}

/** An instance's breaker and the one function that records an attempt's end on it. */
interface Endpoint {
  readonly breaker: Breaker;
  readonly ended: (code: grpc.status) => void;
}

/**
 * A breaker picker that allocates nothing per attempt: the picked
 * subchannel's breaker and a function recording on it are made once per
 * subchannel, and set as the child's pick's onCallEnded (when the child set
 * none), so grpc-js's own pick result and call are all there is. It sees
 * nothing of the attempt but its final code: no call state, probe, stream end
 * or latency; a half-open breaker's probe is not told apart. The least a
 * picker that asks and feeds a Kitex breaker on every attempt costs. grpc-js
 * calls onCallEnded a tick before the caller's interceptors get the status
 * (its retrying and resolving calls hand the status up on the next tick), but
 * with the code alone (1.10-1.13; the details and trailers too from 1.14):
 * neither how the stream ended nor which call the attempt was, which the
 * suite's retries on another instance need. Only the listener of the
 * attempt's subchannel call hears the stream's end.
 */
export class LeanPicker implements Picker {
  private readonly endpoints = new WeakMap<object, Endpoint>();

  constructor(
    private readonly child: Picker,
    private readonly panel: Panel,
  ) {}

  pick(args: grpc.experimental.PickArgs): PickResult {
    const r = this.child.pick(args);
    const sc = r.subchannel;
    if (sc === null) return r;
    const ep = this.endpoints.get(sc) ?? this.endpoint(sc);
    if (ep.breaker.acquire() === NO_PERMIT) return DROP;
    if (r.onCallEnded === null) (r as { onCallEnded: PickResult['onCallEnded'] }).onCallEnded = ep.ended;
    return r;
  }

  private endpoint(sc: grpc.experimental.SubchannelInterface): Endpoint {
    const breaker = this.panel.getBreaker(sc.getAddress());
    const ep: Endpoint = { breaker, ended: recorder(breaker) };
    this.endpoints.set(sc, ep);
    return ep;
  }
}

/** What a bench picker returns when the breaker refuses: the call fails at once. */
export const DROP: PickResult = {
  pickResultType: grpc.experimental.PickResultType.DROP,
  subchannel: null,
  status: { code: grpc.status.UNAVAILABLE, details: 'instance circuitbreak', metadata: new grpc.Metadata() },
  onCallStarted: null,
  onCallEnded: null,
};

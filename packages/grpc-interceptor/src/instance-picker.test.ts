import { constants as http2 } from 'node:http2';
import { State } from '@cbsuite/core';
import { grpc } from '@cbsuite/testkit/echo.js';
import { ManualClock } from '@cbsuite/testkit/manual-clock.js';
import { describe, expect, it, vi } from 'vitest';
import { BreakerLevel } from './breaker-level.js';
import { CALL_ID_HEADER, CallRegistry, type CallState } from './call-registry.js';
import { circuitBreakLevel } from './circuit-break-error.js';
import { InstanceLevel } from './instance-level.js';
import { BreakerPicker, observeSubchannel } from './instance-picker.js';
import { rpcInfoOf } from './rpc-info.js';

const { PickResultType } = grpc.experimental;
type PickResult = grpc.experimental.PickResult;

/** A child picker over fixed addresses, round robin, that counts its picks. */
function childOver(addresses: string[]) {
  let next = 0;
  const picker = {
    picks: 0,
    pick(): PickResult {
      picker.picks++;
      const address = addresses[next++ % addresses.length] as string;
      return {
        pickResultType: PickResultType.COMPLETE,
        subchannel: {
          getAddress: () => address,
          getRealSubchannel: () => ({ createCall: () => ({}) }),
        } as unknown as grpc.experimental.SubchannelInterface,
        status: null,
        onCallStarted: null,
        onCallEnded: null,
      };
    },
  };
  return picker;
}

function level(clock = new ManualClock(), extra = {}) {
  const faults: unknown[] = [];
  const breakers = new BreakerLevel(
    'instance',
    {
      panelOptions: { now: clock.now, ...extra },
      defaults: { minSample: 1 },
      makeTrip: () => () => true,
      getErrorType: (s) => (s.code === grpc.status.OK ? 3 : 2),
    },
    'instanceCBConfig',
  );
  breakers.onFault((...a) => faults.push(a));
  const calls = new CallRegistry({ maxAttempts: 1, idempotent: () => false });
  calls.active = true;
  const l = new InstanceLevel(breakers, calls);
  return { l, clock, faults, panel: breakers.panel };
}

/** Starts tracking a call, as the interceptor does. */
const beginCall = (l: InstanceLevel) => l.calls.begin(rpcInfoOf('', '/a.B/C'), true) as CallState;

/** The pick arguments of an attempt of `call`, tagged as the interceptor tags it (grpc-js picks on a clone). */
const args = (call?: CallState): grpc.experimental.PickArgs => {
  const metadata = new grpc.Metadata();
  return { metadata: call === undefined ? metadata : call.registry.tag(metadata, call).clone(), extraPickInfo: {} };
};
const addressOf = (r: PickResult) => r.subchannel?.getAddress();
const end = (r: PickResult, code: grpc.status, details = '') => r.onCallEnded?.(code, details, new grpc.Metadata());
/** Starts the attempt as grpc-js does: a call on the pick's subchannel, then onCallStarted. */
const start = (r: PickResult) => {
  const listener = { onReceiveMetadata() {}, onReceiveMessage() {}, onReceiveStatus() {} };
  const sc = r.subchannel as grpc.experimental.SubchannelInterface;
  (sc.getRealSubchannel() as unknown as { createCall(...a: unknown[]): unknown }).createCall(
    new grpc.Metadata(),
    '',
    '/a.B/C',
    listener,
  );
  r.onCallStarted?.();
};

/** Instance `a` half-open with one probe slot (one success closes it), its picker, and a call begun. */
function halfOpenA() {
  const { l, clock, panel } = level(new ManualClock(), { halfOpenMaxProbes: 1, halfOpenSuccesses: 1 });
  panel.fail('a');
  clock.advance(5000);
  return { l, panel, picker: new BreakerPicker(childOver(['a']), l, 1, grpc.experimental), call: beginCall(l) };
}

describe('BreakerPicker', () => {
  it('skips tripped instances and records each attempt', () => {
    const { l, panel } = level();
    panel.fail('b');
    const child = childOver(['a', 'b', 'c']);
    const picker = new BreakerPicker(child, l, 3, grpc.experimental);
    expect([addressOf(picker.pick(args())), addressOf(picker.pick(args()))]).toEqual(['a', 'c']);
    expect(child.picks).toBe(3);
    const r = picker.pick(args());
    expect(addressOf(r)).toBe('a');
    end(r, grpc.status.OK);
    expect(panel.getMetricer('a').successes()).toBe(1);
    expect(l.stats().skips.get('b')).toBe(1);
  });

  it('drops the call when every instance is tripped, after a bounded number of picks', () => {
    const { l, panel } = level();
    panel.fail('a');
    const child = childOver(['a']);
    const r = new BreakerPicker(child, l, 1, grpc.experimental).pick(args());
    expect(r.pickResultType).toBe(PickResultType.DROP);
    expect(r.status?.code).toBe(grpc.status.UNAVAILABLE);
    expect(r.status?.details).toBe('forbidden by circuitbreaker: instance circuitbreak');
    expect(circuitBreakLevel(r.status)).toBe('instance');
    expect(child.picks).toBe(6);
    expect(l.stats().drops).toBe(1);
  });

  it('finds the call on its copy of the metadata, skips instances it already tried, and goes back to one only when nothing else is left', () => {
    const { l, panel } = level();
    const call = beginCall(l);
    const picker = new BreakerPicker(childOver(['a', 'b', 'c']), l, 3, grpc.experimental);
    const a1 = args(call);
    expect(addressOf(picker.pick(a1))).toBe('a');
    expect(a1.metadata.getMap()).toEqual({});
    expect(call.picked).toBe(true);
    expect(addressOf(picker.pick(args(call)))).toBe('b');
    panel.fail('c');
    expect(addressOf(picker.pick(args(call)))).toBe('a');
    expect(call.tried).toEqual(['a', 'b', 'a']);
  });

  it("tags a copy whose options answer with the caller's, and leaves the caller's metadata as it was", () => {
    const { l } = level();
    const call = beginCall(l);
    const mine = new grpc.Metadata({ waitForReady: true });
    mine.set('k', 'v');
    const tagged = l.calls.tag(mine, call);
    expect(tagged.getOptions()).toBe(call);
    expect(tagged.clone().getOptions()).toBe(call);
    expect(tagged.getOptions()).toMatchObject({ waitForReady: true, idempotentRequest: undefined });
    expect(tagged.getMap()).toEqual({ k: 'v' });
    expect(mine.getOptions()).toEqual({ waitForReady: true });
    expect(mine.getMap()).toEqual({ k: 'v' });
  });

  it("finds an adapter's call by the id header, and strips it", () => {
    const { l } = level();
    const call = beginCall(l);
    const picker = new BreakerPicker(childOver(['a', 'b']), l, 2, grpc.experimental);
    const a1 = args();
    a1.metadata.set(CALL_ID_HEADER, l.calls.headerValue(call));
    expect(addressOf(picker.pick(a1))).toBe('a');
    expect(a1.metadata.get(CALL_ID_HEADER)).toEqual([]);
    expect(call.tried).toEqual(['a']);
    l.calls.end(call);
    // Ended: its id no longer names a call.
    const a2 = args();
    a2.metadata.set(CALL_ID_HEADER, String(call.id));
    expect(addressOf(picker.pick(a2))).toBe('b');
    expect(call.tried).toEqual(['a']);
  });

  it("takes neither an ended call nor another suite's", () => {
    const { l } = level();
    const other = level().l;
    const ended = beginCall(l);
    const foreign = beginCall(other);
    l.calls.end(ended);
    const picker = new BreakerPicker(childOver(['a']), l, 1, grpc.experimental);
    picker.pick(args(ended));
    picker.pick(args(foreign));
    expect([ended.picked, foreign.picked, ended.tried, foreign.tried]).toEqual([false, false, [], []]);
    expect([l.calls.size, other.calls.size]).toEqual([0, 1]);
  });

  it('shares what a call tried with its hedges, whichever is picked first', () => {
    const { l } = level();
    const call = beginCall(l);
    // The hedge begins before its call's first pick (the call's channel was still connecting).
    const hedge = l.calls.beginHedge(call);
    const picker = new BreakerPicker(childOver(['a', 'b']), l, 2, grpc.experimental);
    expect(addressOf(picker.pick(args(hedge)))).toBe('a');
    expect(addressOf(picker.pick(args(call)))).toBe('b');
    expect(call.tried).toEqual(['a', 'b']);
    expect(hedge.tried).toEqual(['a', 'b']);
    // A second hedge finds both tried: no pick, and not a drop.
    expect(picker.pick(args(l.calls.beginHedge(hedge))).pickResultType).toBe(PickResultType.DROP);
    expect(l.stats().drops).toBe(0);
  });

  it('passes through a child result that is not a pick', () => {
    const { l } = level();
    const queue = {
      pick: () => ({
        pickResultType: PickResultType.QUEUE,
        subchannel: null,
        status: null,
        onCallStarted: null,
        onCallEnded: null,
      }),
    };
    expect(new BreakerPicker(queue, l, 1, grpc.experimental).pick(args()).pickResultType).toBe(PickResultType.QUEUE);
  });

  it('gives back a half-open probe taken by a pick that grpc-js never used', () => {
    const { l, panel, picker, call } = halfOpenA();
    const first = picker.pick(args(call));
    expect(addressOf(first)).toBe('a');
    expect(panel.breaker('a')?.state()).toBe(State.HalfOpen);
    // grpc-js picks again (the subchannel left READY before the attempt started): the probe comes back.
    const second = picker.pick(args(call));
    expect(addressOf(second)).toBe('a');
    start(second);
    // Another call meanwhile finds the one probe slot taken.
    expect(new BreakerPicker(childOver(['a']), l, 1, grpc.experimental).pick(args()).pickResultType).toBe(
      PickResultType.DROP,
    );
    end(second, grpc.status.OK);
    expect(panel.breaker('a')?.state()).toBe(State.Closed);
  });

  it('gives back the unstarted probe of a call that ends without an attempt', () => {
    const { l, picker, call } = halfOpenA();
    picker.pick(args(call));
    expect(picker.pick(args()).pickResultType).toBe(PickResultType.DROP);
    l.calls.end(call);
    expect(addressOf(picker.pick(args()))).toBe('a');
  });

  it('keeps the probe of an attempt that started: its call on the subchannel marks it, not onCallStarted', () => {
    const { l, panel, picker, call } = halfOpenA();
    const r = picker.pick(args(call));
    expect(r.onCallStarted).toBeNull();
    start(r);
    expect(call.transport.started).toBe(true);
    l.calls.end(call);
    // The probe is in flight: no other call gets the slot until its outcome is recorded.
    expect(picker.pick(args()).pickResultType).toBe(PickResultType.DROP);
    end(r, grpc.status.OK);
    expect(panel.breaker('a')?.state()).toBe(State.Closed);
  });

  it("passes a child picker's onCallStarted on", () => {
    const { l } = level();
    let started = 0;
    const child = {
      pick: (): PickResult => ({ ...childOver(['a']).pick(), onCallStarted: () => started++ }),
    };
    start(new BreakerPicker(child, l, 1, grpc.experimental).pick(args()));
    expect(started).toBe(1);
  });
});

type Sub = grpc.experimental.SubchannelInterface;
type Listener = { onReceiveStatus(s: grpc.StatusObject & { rstCode?: number }): void };

interface Made {
  args: unknown[];
  listener: Listener;
  cancelled: boolean;
  disconnected: boolean;
  call: Record<string, () => void>;
}

/** A call whose methods are on its prototype, and that keeps its listener, as grpc-js's subchannel calls do. */
class ProtoCall {
  constructor(
    private readonly entry: Made,
    readonly listener: unknown,
  ) {}
  cancelWithStatus(): void {
    this.entry.cancelled = true;
  }
  onDisconnect(): void {
    this.entry.disconnected = true;
  }
}

/**
 * A picked subchannel whose real subchannel records its createCall arguments
 * and hands out calls to end by hand: with their methods on a prototype
 * (`proto`, as grpc-js's) or as their own properties.
 */
function picked(calls: 'proto' | 'own' = 'own') {
  const made: Made[] = [];
  const real = {
    createCall(...args: unknown[]) {
      const entry: Made = { args, listener: args[3] as Listener, cancelled: false, disconnected: false, call: {} };
      entry.call =
        calls === 'proto'
          ? (new ProtoCall(entry, args[3]) as unknown as Record<string, () => void>)
          : {
              cancelWithStatus: () => {
                entry.cancelled = true;
              },
              onDisconnect: () => {
                entry.disconnected = true;
              },
            };
      made.push(entry);
      return entry.call;
    },
  };
  const sc = {
    getAddress: () => '127.0.0.1:1',
    getConnectivityState: () => grpc.connectivityState.READY,
    getChannelzRef: () => ({ kind: 'subchannel', id: 7, name: '127.0.0.1:1' }),
    getRealSubchannel: () => real,
  } as unknown as Sub;
  return { sc, made };
}

const status = (extra: { rstCode?: number } = {}) => ({
  code: grpc.status.UNAVAILABLE,
  details: '',
  metadata: new grpc.Metadata(),
  ...extra,
});

describe('observeSubchannel', () => {
  it('answers for the picked subchannel without making it a prototype, and hands grpc-js its call id', () => {
    const { sc, made } = picked();
    const view = observeSubchannel(sc);
    expect(Object.getPrototypeOf(view)).not.toBe(sc);
    expect(Object.prototype.isPrototypeOf.call(sc, view)).toBe(false);
    expect([view.getAddress(), view.getConnectivityState(), view.getChannelzRef().id]).toEqual([
      '127.0.0.1:1',
      grpc.connectivityState.READY,
      7,
    ]);
    const md = new grpc.Metadata();
    const listener = { onReceiveMetadata() {}, onReceiveMessage() {}, onReceiveStatus() {} };
    (view.getRealSubchannel().createCall as (...a: unknown[]) => unknown)(md, 'host', '/a.B/C', listener, 42);
    expect(made[0]?.args.slice(0, 3)).toEqual([md, 'host', '/a.B/C']);
    expect(made[0]?.args[4]).toBe(42);
  });

  it.each(['proto', 'own'] as const)(
    'reports how each stream ended: server, refused, reset, disconnect, local (methods: %s)',
    (calls) => {
      const ends: unknown[] = [];
      const covered: [boolean, boolean][] = [];
      const run = (finish: (call: Record<string, () => void>, l: Listener) => void) => {
        const { sc, made } = picked(calls);
        const t = observeSubchannel(sc);
        const got: unknown[] = [];
        const listener = {
          onReceiveMetadata() {},
          onReceiveMessage() {},
          onReceiveStatus: (s: unknown) => got.push(s),
        };
        const call = (view: Sub) =>
          (view.getRealSubchannel().createCall as unknown as (...a: unknown[]) => Record<string, () => void>)(
            new grpc.Metadata(),
            'host',
            '/a.B/C',
            listener,
          );
        const c = call(t);
        finish(c, made[0]?.listener as Listener);
        ends.push(t.end);
        covered.push([made[0]?.disconnected === true, made[0]?.cancelled === true]);
        expect(got).toHaveLength(1);
        expect(t.endStatus).toBe(got[0]);
      };
      run((_, l) => l.onReceiveStatus(status()));
      run((_, l) => l.onReceiveStatus(status({ rstCode: http2.NGHTTP2_REFUSED_STREAM })));
      run((_, l) => l.onReceiveStatus(status({ rstCode: http2.NGHTTP2_INTERNAL_ERROR })));
      run((c, l) => {
        c.onDisconnect?.();
        l.onReceiveStatus(status({ rstCode: http2.NGHTTP2_CANCEL }));
      });
      run((c, l) => {
        c.cancelWithStatus?.();
        l.onReceiveStatus(status());
      });
      expect(ends).toEqual(['server', 'refused', 'reset', 'disconnect', 'local']);
      // The call's own methods still ran.
      expect(covered).toEqual([
        [false, false],
        [false, false],
        [false, false],
        [true, false],
        [false, true],
      ]);
    },
  );

  it('covers the two methods of a grpc-js call class once: no field and no closure per call', () => {
    const { sc, made } = picked('proto');
    const listener = { onReceiveMetadata() {}, onReceiveMessage() {}, onReceiveStatus() {} };
    for (let i = 0; i < 2; i++) {
      const view = observeSubchannel(sc);
      (view.getRealSubchannel().createCall as (...a: unknown[]) => unknown)(
        new grpc.Metadata(),
        'h',
        '/a.B/C',
        listener,
      );
    }
    const [a, b] = made.map((m) => m.call);
    expect(
      a && Reflect.ownKeys(a).filter((k) => typeof k === 'symbol' || k.startsWith('on') || k.startsWith('cancel')),
    ).toEqual([]);
    expect(a?.onDisconnect).toBe(b?.onDisconnect);
    expect(a?.onDisconnect).toBe(ProtoCall.prototype.onDisconnect);
    // A call of the class that no view listens to (another channel's) only runs the method.
    const entry = { args: [], listener: listener as Listener, cancelled: false, disconnected: false, call: {} };
    const other = new ProtoCall(entry, listener);
    other.onDisconnect();
    other.cancelWithStatus();
    expect([entry.disconnected, entry.cancelled]).toEqual([true, true]);
  });

  it('covers a class once per copy of the package: a second copy covers on top, and both note their views', async () => {
    class Call {
      ends: string[] = [];
      constructor(readonly listener: unknown) {}
      onDisconnect(): void {
        this.ends.push('disconnect');
      }
      cancelWithStatus(): void {
        this.ends.push('cancel');
      }
    }
    vi.resetModules();
    const copy = (await import('./instance-picker.js')) as typeof import('./instance-picker.js');
    expect(copy.observeSubchannel).not.toBe(observeSubchannel);
    const start = (observe: typeof observeSubchannel) => {
      const real = { createCall: (...args: unknown[]) => new Call(args[3]) };
      const view = observe({ getRealSubchannel: () => real } as unknown as Sub);
      const call = (view.getRealSubchannel().createCall as unknown as (...a: unknown[]) => Call)(
        new grpc.Metadata(),
        'h',
        '/a.B/C',
        { onReceiveMetadata() {}, onReceiveMessage() {}, onReceiveStatus() {} },
      );
      return { view, call };
    };
    const covers: unknown[] = [];
    const runs = [];
    for (let i = 0; i < 3; i++) {
      for (const observe of [observeSubchannel, copy.observeSubchannel]) {
        const r = start(observe);
        covers.push(Call.prototype.onDisconnect);
        i % 2 === 0 ? r.call.onDisconnect() : r.call.cancelWithStatus();
        runs.push([r.view.end, r.call.ends]);
      }
    }
    // Covered twice (once per copy), then never again.
    expect(new Set(covers).size).toBe(2);
    expect(runs).toEqual([
      ['disconnect', ['disconnect']],
      ['disconnect', ['disconnect']],
      ['local', ['cancel']],
      ['local', ['cancel']],
      ['disconnect', ['disconnect']],
      ['disconnect', ['disconnect']],
    ]);
  });
});

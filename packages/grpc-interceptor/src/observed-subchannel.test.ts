import { constants as http2 } from 'node:http2';
import { grpc } from '@cbsuite/testkit/echo.js';
import { describe, expect, it } from 'vitest';
import { newAttemptTransport } from './attempt-transport.js';
import { observeSubchannel } from './observed-subchannel.js';

type Sub = grpc.experimental.SubchannelInterface;
type Listener = { onReceiveStatus(s: grpc.StatusObject & { rstCode?: number }): void };

interface Made {
  args: unknown[];
  listener: Listener;
  cancelled: boolean;
  disconnected: boolean;
  call: Record<string, () => void>;
}

/** A call whose methods are on its prototype, as grpc-js's subchannel calls are. */
class ProtoCall {
  constructor(private readonly entry: Made) {}
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
          ? (new ProtoCall(entry) as unknown as Record<string, () => void>)
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
    const view = observeSubchannel(sc, newAttemptTransport());
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
        const t = newAttemptTransport();
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
        const c = call(observeSubchannel(sc, t));
        finish(c, made[0]?.listener as Listener);
        ends.push(t.end);
        covered.push([made[0]?.disconnected === true, made[0]?.cancelled === true]);
        expect(got).toHaveLength(1);
        expect(t.status).toBe(got[0]);
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

  it('hooks a grpc-js call with functions every call shares: no closure per call', () => {
    const { sc, made } = picked('proto');
    const listener = { onReceiveMetadata() {}, onReceiveMessage() {}, onReceiveStatus() {} };
    for (let i = 0; i < 2; i++) {
      const view = observeSubchannel(sc, newAttemptTransport());
      (view.getRealSubchannel().createCall as (...a: unknown[]) => unknown)(
        new grpc.Metadata(),
        'h',
        '/a.B/C',
        listener,
      );
    }
    const [a, b] = made.map((m) => m.call);
    expect(a?.onDisconnect).toBe(b?.onDisconnect);
    expect(a?.cancelWithStatus).toBe(b?.cancelWithStatus);
    expect(a?.onDisconnect).not.toBe(ProtoCall.prototype.onDisconnect);
  });
});

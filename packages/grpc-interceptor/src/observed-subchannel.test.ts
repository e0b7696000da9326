import { constants as http2 } from 'node:http2';
import { grpc } from '@cbsuite/testkit/echo.js';
import { describe, expect, it } from 'vitest';
import { newAttemptTransport } from './attempt-transport.js';
import { observeSubchannel } from './observed-subchannel.js';

type Sub = grpc.experimental.SubchannelInterface;
type Listener = { onReceiveStatus(s: grpc.StatusObject & { rstCode?: number }): void };

/** A picked subchannel whose real subchannel records its createCall arguments and hands out calls to end by hand. */
function picked() {
  const made: { args: unknown[]; listener: Listener; cancelled: boolean; call: Record<string, () => void> }[] = [];
  const real = {
    createCall(...args: unknown[]) {
      const entry = { args, listener: args[3] as Listener, cancelled: false, call: {} as Record<string, () => void> };
      entry.call = {
        cancelWithStatus: () => {
          entry.cancelled = true;
        },
        onDisconnect: () => {},
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

  it('reports how each stream ended: server, refused, reset, disconnect, local', () => {
    const ends: unknown[] = [];
    const run = (finish: (call: Record<string, () => void>, l: Listener) => void) => {
      const { sc, made } = picked();
      const t = newAttemptTransport();
      const got: unknown[] = [];
      const listener = { onReceiveMetadata() {}, onReceiveMessage() {}, onReceiveStatus: (s: unknown) => got.push(s) };
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
  });
});

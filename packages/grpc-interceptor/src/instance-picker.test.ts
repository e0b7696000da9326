import { State } from '@cbsuite/core';
import { grpc } from '@cbsuite/testkit/echo.js';
import { ManualClock } from '@cbsuite/testkit/manual-clock.js';
import { describe, expect, it } from 'vitest';
import { BreakerLevel } from './breaker-level.js';
import { CALL_ID_HEADER, CallRegistry, type CallState } from './call-registry.js';
import { circuitBreakLevel } from './circuit-break-error.js';
import { InstanceLevel } from './instance-level.js';
import { BreakerPicker } from './instance-picker.js';
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
        subchannel: { getAddress: () => address } as unknown as grpc.experimental.SubchannelInterface,
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

/** Starts tracking a call, as the interceptor does; returns its id. */
const beginCall = (l: InstanceLevel) => (l.calls.begin(rpcInfoOf('', '/a.B/C'), true) as CallState).id;

const args = (callId?: number): grpc.experimental.PickArgs => {
  const metadata = new grpc.Metadata();
  if (callId !== undefined) metadata.set(CALL_ID_HEADER, String(callId));
  return { metadata, extraPickInfo: {} };
};
const addressOf = (r: PickResult) => r.subchannel?.getAddress();
const end = (r: PickResult, code: grpc.status, details = '') => r.onCallEnded?.(code, details, new grpc.Metadata());

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

  it('strips the call id, skips instances the call already tried, and goes back to one only when nothing else is left', () => {
    const { l, panel } = level();
    const id = beginCall(l);
    const picker = new BreakerPicker(childOver(['a', 'b', 'c']), l, 3, grpc.experimental);
    const a1 = args(id);
    expect(addressOf(picker.pick(a1))).toBe('a');
    expect(a1.metadata.get(CALL_ID_HEADER)).toEqual([]);
    expect(l.calls.get(id)?.picked).toBe(true);
    expect(addressOf(picker.pick(args(id)))).toBe('b');
    panel.fail('c');
    expect(addressOf(picker.pick(args(id)))).toBe('a');
    expect(l.calls.get(id)?.tried).toEqual(['a', 'b', 'a']);
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
    const { l, clock, panel } = level(new ManualClock(), { halfOpenMaxProbes: 1, halfOpenSuccesses: 1 });
    panel.fail('a');
    clock.advance(5000);
    const picker = new BreakerPicker(childOver(['a']), l, 1, grpc.experimental);
    const id = beginCall(l);
    const first = picker.pick(args(id));
    expect(addressOf(first)).toBe('a');
    expect(panel.breaker('a')?.state()).toBe(State.HalfOpen);
    // grpc-js picks again (the subchannel left READY before the attempt started): the probe comes back.
    const second = picker.pick(args(id));
    expect(addressOf(second)).toBe('a');
    second.onCallStarted?.();
    // Another call meanwhile finds the one probe slot taken.
    expect(new BreakerPicker(childOver(['a']), l, 1, grpc.experimental).pick(args()).pickResultType).toBe(
      PickResultType.DROP,
    );
    end(second, grpc.status.OK);
    expect(panel.breaker('a')?.state()).toBe(State.Closed);
  });

  it('gives back the unstarted probe of a call that ends without an attempt', () => {
    const { l, clock, panel } = level(new ManualClock(), { halfOpenMaxProbes: 1 });
    panel.fail('a');
    clock.advance(5000);
    const picker = new BreakerPicker(childOver(['a']), l, 1, grpc.experimental);
    const id = beginCall(l);
    picker.pick(args(id));
    expect(picker.pick(args()).pickResultType).toBe(PickResultType.DROP);
    l.calls.end(l.calls.get(id) as CallState);
    expect(addressOf(picker.pick(args()))).toBe('a');
  });
});

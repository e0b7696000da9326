import { grpc } from '@cbsuite/testkit/echo.js';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CBSuite } from './cb-suite.js';
import type { CBHedgeEvent } from './events.js';

// A hedge withdraws from the retry budget when its delay passes. One that
// never reaches an instance gives the withdrawal back, also when the call's
// first attempt answers before the hedge was picked (the call's end then
// cancels it). The attempts here are stand-ins the test answers by hand, so
// the order is exact; timers are fake.

type Listener = grpc.InterceptingListener;

/** An attempt that never reaches an instance until the test answers it, or until it is cancelled. */
class HeldCall {
  listener: Partial<Listener> | undefined;
  cancelled = false;
  start(_md: grpc.Metadata, l: Partial<Listener>): void {
    this.listener = l;
  }
  sendMessageWithContext(): void {}
  sendMessage(): void {}
  startRead(): void {}
  halfClose(): void {}
  getPeer(): string {
    return '';
  }
  getAuthContext(): null {
    return null;
  }
  answer(text: string): void {
    this.listener?.onReceiveMessage?.({ text });
    this.listener?.onReceiveStatus?.({ code: grpc.status.OK, details: '', metadata: new grpc.Metadata() });
  }
  cancelWithStatus(code: grpc.status, details: string): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.listener?.onReceiveStatus?.({ code, details, metadata: new grpc.Metadata() });
  }
}

const OPTIONS = {
  method_definition: { path: '/echo.v1.Echo/Say', requestStream: false, responseStream: false },
} as unknown as grpc.InterceptorOptions;

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('the retry budget of hedges', () => {
  it('gives back the withdrawal of a hedge the call ended before it reached an instance', () => {
    const cbs = new CBSuite(undefined, {
      fromService: 'checkout',
      idempotent: () => true,
      hedging: { delayMs: 10 },
      // One retry in the budget: the second call may hedge only if the first hedge's withdrawal came back.
      retryBudget: { percentCanRetry: 0, minRetriesPerSec: 1, ttlMs: 1000 },
    });
    // The instance level tracks calls once a channel uses it.
    cbs.channelOptions();
    const hedges: string[] = [];
    cbs.onHedge((e: CBHedgeEvent) => hedges.push(`${e.attempt}:${e.outcome}`));
    const answers: string[] = [];
    for (const text of ['first', 'second']) {
      const made: HeldCall[] = [];
      const next = (() => {
        const c = new HeldCall();
        made.push(c);
        return c;
      }) as unknown as grpc.NextCall;
      const call = cbs.interceptor()(OPTIONS, next);
      call.start(new grpc.Metadata(), {
        onReceiveMessage: (m: { text: string }) => answers.push(m.text),
        onReceiveStatus: (s: grpc.StatusObject) => answers.push(grpc.status[s.code]),
      });
      call.sendMessage({ text });
      call.halfClose();
      vi.advanceTimersByTime(10);
      expect(made.length).toBe(2);
      // The first attempt answers while the hedge still waits for its pick: the hedge is cancelled, never sent.
      made[0]?.answer(text);
      expect(made[1]?.cancelled).toBe(true);
    }
    expect(answers).toEqual(['first', 'OK', 'second', 'OK']);
    expect(hedges).toEqual(['2:hedged', '2:hedged']);
    cbs.close();
  });
});

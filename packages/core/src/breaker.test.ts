import { ManualClock } from '@cbsuite/testkit/manual-clock.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Breaker } from './breaker.js';
import { ErrorType } from './error-type.js';
import { BreakerTimeoutError, isBreakerTimeoutError, isCircuitBreakerError } from './errors.js';
import type { Metricer } from './metricer.js';
import { OptionRangeError, OptionTypeError } from './option-error.js';
import type { BreakerOptions } from './options.js';
import { NO_PERMIT, PERMIT } from './permit.js';
import { State, stateName } from './state.js';
import type { TransitionInfo } from './transition.js';
import { consecutiveTripFunc, rateTripFunc, slowRateTripFunc, thresholdTripFunc } from './trip-funcs.js';

interface Event {
  from: string;
  to: string;
  cause: TransitionInfo['cause'];
  attempt: number;
  coolingMs: number;
  s: number;
  f: number;
  t: number;
}

function setup(options: BreakerOptions = {}) {
  const clock = new ManualClock();
  const events: Event[] = [];
  const b = new Breaker({ now: clock.now, shouldTrip: thresholdTripFunc(3), ...options }, (from, to, m, info) => {
    events.push({
      from: stateName(from),
      to: stateName(to),
      cause: info.cause,
      attempt: info.attempt,
      coolingMs: info.coolingMs,
      s: m.successes(),
      f: m.failures(),
      t: m.timeouts(),
    });
  });
  const trip = () => {
    for (let i = 0; i < 3; i++) b.fail();
    expect(b.state()).toBe(State.Open);
  };
  const counts = (m: Metricer = b.metricer()) => [m.successes(), m.failures(), m.timeouts()];
  return { clock, events, b, trip, counts };
}

describe('Breaker: gopkg behaviour kept', () => {
  it('starts CLOSED and allows calls', () => {
    const { b } = setup();
    expect(b.state()).toBe(State.Closed);
    expect(b.isAllowed()).toBe(true);
    expect(b.acquire()).toBe(PERMIT);
  });

  it('evaluates the trip func after recording, only on failures and timeouts', () => {
    const seen: number[][] = [];
    const { b } = setup({
      shouldTrip: (m) => {
        seen.push([m.successes(), m.failures(), m.timeouts()]);
        return false;
      },
    });
    b.succeed();
    b.succeed();
    expect(seen).toEqual([]);
    b.fail();
    b.timeout();
    expect(seen).toEqual([
      [2, 1, 0],
      [2, 1, 1],
    ]);
  });

  it('trips on the failure that crosses rateTripFunc(0.5, 10)', () => {
    const { b, events } = setup({ shouldTrip: rateTripFunc(0.5, 10) });
    for (let i = 0; i < 5; i++) b.succeed();
    for (let i = 0; i < 4; i++) b.fail();
    expect(b.state()).toBe(State.Closed);
    b.fail();
    expect(b.state()).toBe(State.Open);
    expect(events).toEqual([
      { from: 'CLOSED', to: 'OPEN', cause: 'trip', attempt: 0, coolingMs: 5000, s: 5, f: 5, t: 0 },
    ]);
  });

  it('does not reset the window on trip', () => {
    const { b, trip, counts } = setup();
    b.succeed();
    trip();
    expect(counts()).toEqual([1, 3, 0]);
  });

  it('rejects while cooling and admits the first call after coolingTimeoutMs as a probe', () => {
    const { b, clock, trip, events } = setup();
    trip();
    clock.advance(4999);
    expect(b.isAllowed()).toBe(false);
    expect(b.state()).toBe(State.Open);
    clock.advance(1);
    const probe = b.acquire();
    expect(probe).toBeGreaterThan(PERMIT);
    expect(b.state()).toBe(State.HalfOpen);
    expect(events.at(-1)).toMatchObject({ from: 'OPEN', to: 'HALFOPEN', cause: 'cooled' });
  });

  it('admits one call per detectTimeoutMs in HALF_OPEN, whatever is in flight', () => {
    const { b, clock, trip } = setup();
    trip();
    clock.advance(5000);
    expect(b.isAllowed()).toBe(true);
    clock.advance(199);
    expect(b.isAllowed()).toBe(false);
    clock.advance(1);
    expect(b.isAllowed()).toBe(true);
    expect(b.isAllowed()).toBe(false);
    clock.advance(200);
    expect(b.isAllowed()).toBe(true);
  });

  it('closes after halfOpenSuccesses successes and resets the window; the event carries the counts before reset', () => {
    const { b, clock, trip, events, counts } = setup();
    b.succeed();
    trip();
    clock.advance(5000);
    b.isAllowed();
    b.succeed();
    expect(b.state()).toBe(State.HalfOpen);
    b.succeed();
    expect(b.state()).toBe(State.Closed);
    expect(counts()).toEqual([0, 0, 0]);
    expect(events.at(-1)).toEqual({
      from: 'HALFOPEN',
      to: 'CLOSED',
      cause: 'probeSucceeded',
      attempt: 0,
      coolingMs: 0,
      s: 1,
      f: 3,
      t: 0,
    });
  });

  it.each(['fail', 'timeout'] as const)('re-opens on any %s in HALF_OPEN and cools again from then', (outcome) => {
    const { b, clock, trip, events, counts } = setup();
    trip();
    clock.advance(5000);
    b.isAllowed();
    b.succeed();
    clock.advance(50);
    b[outcome]();
    expect(b.state()).toBe(State.Open);
    expect(events.at(-1)).toMatchObject({
      from: 'HALFOPEN',
      to: 'OPEN',
      cause: 'probeFailed',
      attempt: 1,
      coolingMs: 5000,
    });
    expect(counts()).toEqual(outcome === 'fail' ? [0, 4, 0] : [0, 3, 1]);
    clock.advance(4999);
    expect(b.isAllowed()).toBe(false);
    clock.advance(1);
    expect(b.isAllowed()).toBe(true);
  });

  it('drops late successes in OPEN and records late failures without moving the open time', () => {
    const { b, clock, trip, counts } = setup();
    trip();
    clock.advance(1000);
    b.succeed();
    b.fail();
    b.timeout();
    expect(counts()).toEqual([0, 4, 1]);
    expect(b.state()).toBe(State.Open);
    clock.advance(4000);
    expect(b.isAllowed()).toBe(true);
  });

  it('counts any success in HALF_OPEN by default, even one that carries no probe permit', () => {
    const { b, clock, trip } = setup();
    trip();
    clock.advance(5000);
    b.isAllowed();
    b.succeed(undefined, PERMIT);
    b.succeed();
    expect(b.state()).toBe(State.Closed);
  });

  it('pins Kitex TestServiceCB: cooling = detect = 100 ms', () => {
    const { b, clock, trip } = setup({ coolingTimeoutMs: 100, detectTimeoutMs: 100 });
    trip();
    clock.advance(100);
    expect(b.isAllowed()).toBe(true); // request 0
    b.succeed();
    expect(b.isAllowed()).toBe(false); // request 1
    expect(b.isAllowed()).toBe(false); // request 2
    clock.advance(200);
    expect(b.isAllowed()).toBe(true); // request 3
    b.succeed();
    expect(b.state()).toBe(State.Closed);
  });

  it('uses failWithTrip / timeoutWithTrip instead of the configured trip func', () => {
    const { b } = setup({ shouldTrip: () => false });
    b.failWithTrip(consecutiveTripFunc(2));
    expect(b.state()).toBe(State.Closed);
    b.timeoutWithTrip(consecutiveTripFunc(2));
    expect(b.state()).toBe(State.Open);
  });

  it('keeps the detect interval of a probe whose outcome is ignorable: one probe per detectTimeoutMs', () => {
    const { b, clock, trip, counts } = setup();
    trip();
    clock.advance(5000);
    const cancelled = b.acquire();
    expect(cancelled).toBeGreaterThan(PERMIT);
    b.record(ErrorType.Ignorable, undefined, cancelled); // the caller cancelled the probe
    expect(b.acquire()).toBe(NO_PERMIT);
    clock.advance(199);
    expect(b.acquire()).toBe(NO_PERMIT);
    clock.advance(1);
    const next = b.acquire();
    expect(next).toBeGreaterThan(PERMIT);
    b.record(ErrorType.Ignorable, undefined, next);
    b.release(next); // a release after the outcome changes nothing
    expect(b.acquire()).toBe(NO_PERMIT);
    expect(b.state()).toBe(State.HalfOpen);
    expect(counts()).toEqual([0, 3, 0]);
  });

  it.each([
    ['coolingTimeoutMs', 5000],
    ['detectTimeoutMs', 200],
  ] as const)('reads %s: 0 as its default, %i ms (gopkg)', (option, ms) => {
    const { b, clock, trip } = setup({ [option]: 0 });
    trip();
    clock.advance(option === 'coolingTimeoutMs' ? 4999 : 5000);
    if (option === 'coolingTimeoutMs') {
      expect(b.acquire()).toBe(NO_PERMIT);
      clock.advance(1);
    }
    expect(b.acquire()).toBeGreaterThan(PERMIT);
    clock.advance(option === 'detectTimeoutMs' ? ms - 1 : 199);
    expect(b.acquire()).toBe(NO_PERMIT);
    clock.advance(1);
    expect(b.acquire()).toBeGreaterThan(PERMIT);
  });

  it('reads bucketTimeMs, bucketNums and halfOpenSuccesses: 0 as their defaults (gopkg)', () => {
    const o = new Breaker({ bucketTimeMs: 0, bucketNums: 0, halfOpenSuccesses: 0 });
    expect(o.metricer().samples()).toBe(0);
    const { b, clock, trip } = setup({ bucketTimeMs: 0, bucketNums: 0, halfOpenSuccesses: 0 });
    b.succeed();
    clock.advance(9_999);
    expect(b.metricer().successes()).toBe(1); // a 100 × 100 ms window
    clock.advance(1);
    expect(b.metricer().successes()).toBe(0);
    trip();
    clock.advance(5000);
    b.succeed(undefined, b.acquire());
    expect(b.state()).toBe(State.HalfOpen); // 2 probe successes close
    clock.advance(200);
    b.succeed(undefined, b.acquire());
    expect(b.state()).toBe(State.Closed);
  });

  it('never trips when shouldTripWithKey has no trip func for the key (gopkg)', () => {
    const b = new Breaker({ shouldTripWithKey: () => undefined as never, now: new ManualClock().now });
    for (let i = 0; i < 300; i++) b.fail();
    expect(b.state()).toBe(State.Closed);
    expect(b.metricer().failures()).toBe(300);
  });

  it('defaults to Kitex CBConfig rateTripFunc(0.5, 200)', () => {
    const b = new Breaker({ now: new ManualClock().now });
    for (let i = 0; i < 100; i++) b.succeed();
    for (let i = 0; i < 99; i++) b.fail();
    expect(b.state()).toBe(State.Closed);
    b.fail();
    expect(b.state()).toBe(State.Open);
  });
});

describe('Breaker: quirks fixed', () => {
  it('reset() closes, empties the window and fires the handler (gopkg fires nothing)', () => {
    const { b, trip, events, counts } = setup();
    trip();
    b.reset();
    expect(b.state()).toBe(State.Closed);
    expect(counts()).toEqual([0, 0, 0]);
    expect(events.at(-1)).toMatchObject({ from: 'OPEN', to: 'CLOSED', cause: 'reset', f: 3 });
    b.reset();
    expect(events).toHaveLength(2);
  });

  it('hands the handler counts frozen at the transition, not the live window', () => {
    let seen: Metricer | undefined;
    const clock = new ManualClock();
    const b = new Breaker({ now: clock.now, shouldTrip: thresholdTripFunc(1) }, (_from, _to, m) => {
      seen = m;
    });
    b.fail();
    b.fail();
    b.fail();
    expect(seen?.failures()).toBe(1);
    expect(b.metricer().failures()).toBe(3);
  });

  it('keeps working when the handler throws, and reports the error', () => {
    const errors: unknown[] = [];
    const clock = new ManualClock();
    const b = new Breaker(
      { now: clock.now, shouldTrip: thresholdTripFunc(1), onHandlerError: (e) => errors.push(e) },
      () => {
        throw new Error('handler bug');
      },
    );
    b.fail();
    expect(b.state()).toBe(State.Open);
    expect(errors).toEqual([new Error('handler bug')]);
  });
});

describe('Breaker: cooling backoff', () => {
  it('grows the cooling time across failed probes, caps it, and starts over after a close', () => {
    const random = vi.fn(() => 0.5); // jitter factor 1
    const { b, clock, trip, events } = setup({
      coolingTimeoutMs: 1000,
      coolingBackoff: { multiplier: 2, maxMs: 5000, jitter: 0.5 },
      random,
    });
    const probeAndFail = () => {
      const cooling = events.at(-1)?.coolingMs ?? 0;
      clock.advance(cooling - 1);
      expect(b.isAllowed()).toBe(false);
      clock.advance(1);
      expect(b.isAllowed()).toBe(true);
      b.fail();
    };
    trip();
    probeAndFail();
    probeAndFail();
    probeAndFail();
    probeAndFail();
    expect(events.filter((e) => e.to === 'OPEN').map((e) => [e.attempt, e.coolingMs])).toEqual([
      [0, 1000],
      [1, 2000],
      [2, 4000],
      [3, 5000],
      [4, 5000],
    ]);
    clock.advance(5000);
    b.isAllowed();
    b.succeed();
    clock.advance(200);
    b.isAllowed();
    b.succeed();
    expect(b.state()).toBe(State.Closed);
    trip();
    expect(events.at(-1)).toMatchObject({ attempt: 0, coolingMs: 1000 });
  });

  it('spreads the cooling time by the jitter', () => {
    const { events, trip } = setup({
      coolingTimeoutMs: 1000,
      coolingBackoff: { jitter: 0.2 },
      random: () => 0,
    });
    trip();
    expect(events.at(-1)?.coolingMs).toBe(800);
  });

  it('falls back to coolingTimeoutMs when a custom backoff returns nonsense', () => {
    const { events, trip } = setup({ coolingTimeoutMs: 1000, coolingBackoff: () => Number.NaN });
    trip();
    expect(events.at(-1)?.coolingMs).toBe(1000);
  });
});

describe('Breaker: probe discipline', () => {
  it('bounds probes in flight with halfOpenMaxProbes', () => {
    const { b, clock, trip } = setup({ halfOpenMaxProbes: 1, detectTimeoutMs: 1 });
    trip();
    clock.advance(5000);
    const p1 = b.acquire();
    expect(p1).toBeGreaterThan(PERMIT);
    clock.advance(1);
    expect(b.acquire()).toBe(NO_PERMIT);
    b.succeed(undefined, p1);
    const p2 = b.acquire();
    expect(p2).toBeGreaterThan(p1);
    expect(b.acquire()).toBe(NO_PERMIT);
    b.succeed(undefined, p2);
    expect(b.state()).toBe(State.Closed);
  });

  it('with strictProbes, only probe results move HALF_OPEN', () => {
    const { b, clock, trip, counts } = setup({ strictProbes: true });
    const early = b.acquire(); // admitted while CLOSED
    trip();
    clock.advance(5000);
    const probe = b.acquire();
    b.succeed(undefined, early); // a late success from before the trip
    b.succeed(); // an outcome with no permit
    b.fail(undefined, early); // a late failure: recorded, but does not re-open
    expect(b.state()).toBe(State.HalfOpen);
    expect(counts()).toEqual([0, 4, 0]);
    b.succeed(undefined, probe);
    clock.advance(200);
    b.succeed(undefined, b.acquire());
    expect(b.state()).toBe(State.Closed);
  });

  it('with strictProbes, a failed probe re-opens', () => {
    const { b, clock, trip } = setup({ strictProbes: true });
    trip();
    clock.advance(5000);
    b.fail(undefined, b.acquire());
    expect(b.state()).toBe(State.Open);
  });

  it('releases a probe that never reports back after halfOpenProbeTimeoutMs, so HALF_OPEN cannot wedge', () => {
    const { b, clock, trip } = setup({ halfOpenMaxProbes: 1, halfOpenProbeTimeoutMs: 3000 });
    trip();
    clock.advance(5000);
    expect(b.acquire()).toBeGreaterThan(PERMIT); // lost: never reports
    clock.advance(2999);
    expect(b.acquire()).toBe(NO_PERMIT);
    clock.advance(1);
    const p = b.acquire();
    expect(p).toBeGreaterThan(PERMIT);
    b.succeed(undefined, p);
    clock.advance(200);
    b.succeed(undefined, b.acquire());
    expect(b.state()).toBe(State.Closed);
  });

  it('release() of an unused probe frees its slot and its detect interval', () => {
    const { b, clock, trip } = setup({ halfOpenMaxProbes: 1 });
    trip();
    clock.advance(5000);
    const p1 = b.acquire();
    clock.advance(10);
    expect(b.acquire()).toBe(NO_PERMIT);
    b.release(p1);
    expect(b.acquire()).toBeGreaterThan(PERMIT);
  });

  it('release() restores the detect interval in Kitex mode too, and ignores unknown permits', () => {
    const { b, clock, trip } = setup();
    trip();
    clock.advance(5000);
    b.acquire();
    clock.advance(300);
    const p = b.acquire();
    expect(b.acquire()).toBe(NO_PERMIT);
    b.release(PERMIT);
    b.release(12345);
    expect(b.acquire()).toBe(NO_PERMIT);
    b.release(p);
    expect(b.acquire()).toBeGreaterThan(PERMIT);
  });
});

describe('Breaker: slow calls', () => {
  it('trips on the share of slow calls, evaluated on slow successes too', () => {
    const { b, events } = setup({ slowCallDurationMs: 100, shouldTrip: slowRateTripFunc(0.5, 4) });
    b.succeed(10);
    b.succeed(99);
    b.succeed(100);
    expect(b.metricer().slowCalls()).toBe(1);
    expect(b.state()).toBe(State.Closed);
    b.succeed(250);
    expect(b.state()).toBe(State.Open);
    expect(events.at(-1)).toMatchObject({ cause: 'trip', s: 4, f: 0 });
  });

  it('counts a slow probe as a failed probe', () => {
    const { b, clock, trip } = setup({ slowCallDurationMs: 100 });
    trip();
    clock.advance(5000);
    b.isAllowed();
    b.succeed(500);
    expect(b.state()).toBe(State.Open);
  });

  it('ignores latency when slow calls are not tracked', () => {
    const { b } = setup({ shouldTrip: slowRateTripFunc(0, 1) });
    b.succeed(1_000_000);
    expect(b.metricer().slowCalls()).toBe(0);
    expect(b.state()).toBe(State.Closed);
  });
});

describe('Breaker: forced modes', () => {
  it('forcedOpen rejects everything, records nothing and reports OPEN', () => {
    const { b, events, counts } = setup();
    b.setMode('forcedOpen');
    expect(b.state()).toBe(State.Open);
    expect(b.mode()).toBe('forcedOpen');
    expect(b.isAllowed()).toBe(false);
    b.succeed();
    b.fail();
    expect(counts()).toEqual([0, 0, 0]);
    expect(events).toMatchObject([{ from: 'CLOSED', to: 'OPEN', cause: 'mode' }]);
    expect(b.rejectionError().message).toBe('forbidden by circuitbreaker: "" is FORCED_OPEN');
  });

  it('disabled allows everything and records nothing', () => {
    const { b, counts } = setup();
    b.setMode('disabled');
    for (let i = 0; i < 10; i++) {
      expect(b.isAllowed()).toBe(true);
      b.fail();
    }
    expect(counts()).toEqual([0, 0, 0]);
    expect(b.state()).toBe(State.Closed);
  });

  it('metricsOnly records everything and never trips', () => {
    const { b, counts } = setup();
    b.setMode('metricsOnly');
    for (let i = 0; i < 10; i++) b.fail();
    b.succeed();
    expect(counts()).toEqual([1, 10, 0]);
    expect(b.isAllowed()).toBe(true);
    expect(b.state()).toBe(State.Closed);
  });

  it('back to normal resumes in CLOSED with the window kept', () => {
    const { b, events, counts, clock, trip } = setup();
    trip();
    clock.advance(5000);
    b.isAllowed();
    b.setMode('metricsOnly');
    expect(events.at(-1)).toMatchObject({ from: 'HALFOPEN', to: 'CLOSED', cause: 'mode' });
    b.setMode('normal');
    expect(b.state()).toBe(State.Closed);
    expect(counts()).toEqual([0, 3, 0]);
    b.fail();
    expect(b.state()).toBe(State.Open);
  });

  it('rejects an unknown mode with a TypeError naming it', () => {
    const { b } = setup();
    expect(() => b.setMode('halfOpen' as never)).toThrow(
      new OptionTypeError('mode', 'halfOpen', 'must be one of normal, disabled, metricsOnly, forcedOpen'),
    );
    expect(() => b.setMode('__proto__' as never)).toThrow(TypeError);
    expect(b.mode()).toBe('normal');
  });
});

describe('Breaker: record(ErrorType)', () => {
  it('maps each ErrorType to its outcome', () => {
    const { b, counts } = setup({ shouldTrip: () => false });
    b.record(ErrorType.Success);
    b.record(ErrorType.Failure);
    b.record(ErrorType.Timeout);
    b.record(ErrorType.Ignorable);
    expect(counts()).toEqual([1, 1, 1]);
  });

  it('frees the in-flight slot of a probe whose outcome is Ignorable, not its detect interval', () => {
    const { b, clock, trip } = setup({ halfOpenMaxProbes: 1 });
    trip();
    clock.advance(5000);
    const p = b.acquire();
    clock.advance(200);
    expect(b.acquire()).toBe(NO_PERMIT); // one probe in flight
    b.record(ErrorType.Ignorable, undefined, p);
    const q = b.acquire();
    expect(q).toBeGreaterThan(PERMIT);
    b.record(ErrorType.Ignorable, undefined, q);
    expect(b.acquire()).toBe(NO_PERMIT); // q took this detect interval
  });
});

describe('Breaker.execute', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('records a fulfilled call as a success and returns its value', async () => {
    const { b, counts } = setup();
    await expect(b.execute(async () => 42)).resolves.toBe(42);
    await expect(b.execute(() => 'sync value')).resolves.toBe('sync value');
    expect(counts()).toEqual([2, 0, 0]);
  });

  it('records a rejection or a throw as a failure and passes the error on', async () => {
    const { b, counts } = setup({ shouldTrip: () => false });
    const boom = new Error('boom');
    await expect(b.execute(async () => Promise.reject(boom))).rejects.toBe(boom);
    await expect(
      b.execute(() => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(counts()).toEqual([0, 2, 0]);
  });

  it('rejects at once when not allowed, without calling fn, with one stackless error per state', async () => {
    const { b, trip, clock } = setup();
    trip();
    const fn = vi.fn(async () => 1);
    const e1 = await b.execute(fn).catch((e: unknown) => e);
    const e2 = await b.execute(fn).catch((e: unknown) => e);
    expect(fn).not.toHaveBeenCalled();
    expect(isCircuitBreakerError(e1)).toBe(true);
    expect(e1).toBe(e2);
    expect(e1).toMatchObject({ name: 'CircuitBreakerError', key: '', state: State.Open, mode: 'normal' });
    expect(String((e1 as Error).stack)).not.toMatch(/\n\s+at /);
    clock.advance(5000);
    b.isAllowed();
    const e3 = await b.execute(fn, { timeoutMs: 100 }).catch((e: unknown) => e);
    expect(e3).not.toBe(e1);
    expect(e3).toMatchObject({ state: State.HalfOpen });
  });

  it('shares one handled rejected promise per state, so a dropped rejection is not reported as unhandled', async () => {
    const { b, trip } = setup();
    trip();
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const p1 = b.execute(async () => 1);
      const p2 = b.execute(async () => 1);
      expect(p1).toBe(p2);
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
      await expect(p1).rejects.toBe(b.rejectionError());
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('uses classify to decide how an error counts', async () => {
    const { b, counts } = setup({ shouldTrip: () => false });
    const classify = (e: unknown) => ((e as Error).message === 'ignore' ? ErrorType.Ignorable : ErrorType.Timeout);
    await b.execute(async () => Promise.reject(new Error('ignore')), { classify }).catch(() => {});
    await b.execute(async () => Promise.reject(new Error('slow')), { classify }).catch(() => {});
    await b
      .execute(async () => Promise.reject(new Error('x')), {
        classify: () => {
          throw new Error('classifier bug');
        },
      })
      .catch(() => {});
    expect(counts()).toEqual([0, 1, 1]);
  });

  it('times a call out: aborts its signal, records a timeout and rejects with BreakerTimeoutError', async () => {
    vi.useFakeTimers();
    const { b, counts } = setup({ shouldTrip: () => false });
    let signal: AbortSignal | undefined;
    const p = b.execute(
      (s) => {
        signal = s;
        return new Promise(() => {});
      },
      { timeoutMs: 250 },
    );
    const caught = p.catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(249);
    expect(signal?.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const err = await caught;
    expect(isBreakerTimeoutError(err)).toBe(true);
    expect(err).toBeInstanceOf(BreakerTimeoutError);
    expect(err).toMatchObject({ timeoutMs: 250, message: 'call for "" timed out after 250 ms' });
    expect(signal?.aborted).toBe(true);
    expect(counts()).toEqual([0, 0, 1]);
  });

  it("aborting the caller's signal rejects with its reason and records nothing", async () => {
    const { b, counts } = setup();
    const ac = new AbortController();
    let inner: AbortSignal | undefined;
    const p = b.execute(
      (s) => {
        inner = s;
        return new Promise(() => {});
      },
      { signal: ac.signal },
    );
    ac.abort(new Error('caller gave up'));
    await expect(p).rejects.toThrow('caller gave up');
    expect(inner?.aborted).toBe(true);
    expect(counts()).toEqual([0, 0, 0]);
    const fn = vi.fn();
    await expect(b.execute(fn, { signal: ac.signal })).rejects.toThrow('caller gave up');
    expect(fn).not.toHaveBeenCalled();
  });

  it("a probe the caller aborts keeps its detect interval, like Kitex's ignorable outcome", async () => {
    const { b, clock, trip } = setup();
    trip();
    clock.advance(5000);
    const ac = new AbortController();
    const p = b.execute(() => new Promise(() => {}), { signal: ac.signal });
    ac.abort(new Error('caller gave up'));
    await expect(p).rejects.toThrow('caller gave up');
    expect(b.acquire()).toBe(NO_PERMIT);
    clock.advance(200);
    expect(b.acquire()).toBeGreaterThan(PERMIT);
  });

  it('rejects bad options with a typed error and releases the permit', async () => {
    const { b, clock, trip } = setup({ halfOpenMaxProbes: 1 });
    await expect(b.execute(async () => 1, { timeoutMs: -1 })).rejects.toThrow(
      new OptionRangeError('timeoutMs', -1, 'must be a finite number >= 0'),
    );
    await expect(b.execute(async () => 1, { signal: {} as never })).rejects.toThrow(TypeError);
    await expect(b.execute(async () => 1, { classify: 'x' as never })).rejects.toThrow(TypeError);
    trip();
    clock.advance(5000);
    await expect(b.execute(async () => 1, { timeoutMs: Number.NaN })).rejects.toThrow(RangeError);
    expect(b.acquire()).toBeGreaterThan(PERMIT);
  });

  it('passes probe permits through, so strict probes close the breaker', async () => {
    const { b, clock, trip } = setup({ strictProbes: true, halfOpenMaxProbes: 1 });
    trip();
    clock.advance(5000);
    await b.execute(async () => 1);
    clock.advance(200);
    await b.execute(async () => 1);
    expect(b.state()).toBe(State.Closed);
  });

  it('measures latency for slow-call tracking', async () => {
    const clock = new ManualClock();
    const b = new Breaker({ now: clock.now, slowCallDurationMs: 100, shouldTrip: () => false });
    await b.execute(async () => {
      clock.advance(150);
    });
    await b.execute(async () => {
      clock.advance(50);
    });
    expect(b.metricer().slowCalls()).toBe(1);
  });
});

describe('Breaker options', () => {
  const bad: [string, BreakerOptions, ErrorConstructor, string][] = [
    [
      'bucketNums below 100 (gopkg)',
      { bucketNums: 99 },
      RangeError,
      'bucketNums must be an integer in [100, 100000], got 99',
    ],
    [
      'bucketNums fraction',
      { bucketNums: 100.5 },
      RangeError,
      'bucketNums must be an integer in [100, 100000], got 100.5',
    ],
    [
      'bucketTimeMs negative',
      { bucketTimeMs: -1 },
      RangeError,
      'bucketTimeMs must be an integer in [1, 86400000], got -1',
    ],
    ['bucketTimeMs NaN', { bucketTimeMs: Number.NaN }, RangeError, 'bucketTimeMs must be a number, got NaN'],
    ['bucketTimeMs string', { bucketTimeMs: '100' as never }, TypeError, 'bucketTimeMs must be a number, got "100"'],
    [
      'coolingTimeoutMs negative',
      { coolingTimeoutMs: -1 },
      RangeError,
      'coolingTimeoutMs must be a finite number in [0, 86400000], got -1',
    ],
    ['coolingTimeoutMs Infinity', { coolingTimeoutMs: Number.POSITIVE_INFINITY }, RangeError, 'got Infinity'],
    [
      'detectTimeoutMs null',
      { detectTimeoutMs: null as never },
      TypeError,
      'detectTimeoutMs must be a number, got null',
    ],
    [
      'halfOpenSuccesses negative',
      { halfOpenSuccesses: -2 },
      RangeError,
      'halfOpenSuccesses must be an integer >= 1, got -2',
    ],
    [
      'halfOpenMaxProbes fraction',
      { halfOpenMaxProbes: 1.5 },
      RangeError,
      'halfOpenMaxProbes must be an integer >= 1, got 1.5',
    ],
    [
      'halfOpenProbeTimeoutMs zero',
      { halfOpenProbeTimeoutMs: 0 },
      RangeError,
      'halfOpenProbeTimeoutMs must be a finite number in [1, 86400000], got 0',
    ],
    [
      'slowCallDurationMs negative',
      { slowCallDurationMs: -5 },
      RangeError,
      'slowCallDurationMs must be a finite number in [0, 86400000], got -5',
    ],
    ['strictProbes string', { strictProbes: 'yes' as never }, TypeError, 'strictProbes must be a boolean, got "yes"'],
    ['shouldTrip object', { shouldTrip: {} as never }, TypeError, 'shouldTrip must be a function, got {}'],
    ['now number', { now: 5 as never }, TypeError, 'now must be a function, got 5'],
    ['coolingBackoff string', { coolingBackoff: 'exp' as never }, TypeError, 'coolingBackoff must be a BackoffFunc'],
    [
      'coolingBackoff bad multiplier',
      { coolingBackoff: { multiplier: 0.5 } },
      RangeError,
      'coolingBackoff.multiplier must be a finite number >= 1, got 0.5',
    ],
    [
      'coolingBackoff unknown field',
      { coolingBackoff: { factor: 2 } as never },
      TypeError,
      'coolingBackoff has an unknown field "factor"; known fields: multiplier, maxMs, jitter',
    ],
    [
      'unknown option',
      { coolingTimeout: 5 } as never,
      TypeError,
      'Breaker options has an unknown field "coolingTimeout"; known fields: bucketTimeMs,',
    ],
  ];
  it.each(bad)('%s', (_name, options, type, message) => {
    let thrown: unknown;
    try {
      new Breaker(options);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(type);
    expect((thrown as Error).message).toContain(message);
  });

  it('rejects options that are not an object and a handler that is not a function', () => {
    expect(() => new Breaker(5 as never)).toThrow(new OptionTypeError('Breaker options', 5, 'must be an object'));
    expect(() => new Breaker(null as never)).toThrow('Breaker options must be an object, got null');
    expect(() => new Breaker({}, 'x' as never)).toThrow(
      new OptionTypeError('onStateChange', 'x', 'must be a function'),
    );
  });
});

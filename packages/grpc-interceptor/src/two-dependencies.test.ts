// The latency throttle's scenario (issue 12) with real grpc-js servers: two
// dependencies behind one suite, called by a pool of 20 workers
// (packages/testkit/src/two-dependencies.ts says why a pool). Healthy, each
// answers in 20 ms and the pool is a fifth busy; then one turns 20× slow, and
// its calls alone would need twice the pool. Throttle on and off run in the
// same test, one after the other, so both see the same machine.

import { grpc } from '@cbsuite/testkit/echo.js';
import { quantile, type TwoDependencyResult, twoDependencies } from '@cbsuite/testkit/two-dependencies.js';
import { describe, expect, it } from 'vitest';

const WORKERS = 20;
const ACTIVE_IN_FLIGHT = 8;

const run = (shedding: Parameters<typeof twoDependencies>[0]['shedding']) =>
  twoDependencies({
    workers: WORKERS,
    ratePerSec: 200,
    delayMs: 20,
    slowFactor: 20,
    healthyMs: 2000,
    slowMs: 4500,
    settleMs: 2000,
    shedding,
  });

function summary(r: TwoDependencyResult) {
  return {
    healthyFastP99: Math.round(quantile(r.healthy.fastMs, 0.99)),
    slowFastP50: Math.round(quantile(r.slow.fastMs, 0.5)),
    slowFastP99: Math.round(quantile(r.slow.fastMs, 0.99)),
    slowInFlightMax: r.slow.slowInFlightMax,
    slowInFlightMean: Math.round(r.slow.slowInFlightMean),
    slowLoopStallMs: Math.round(r.slow.loopStallMs),
    shed: Object.fromEntries(Object.entries(r.shed).map(([k, m]) => [k, [...m.values()].reduce((a, b) => a + b, 0)])),
  };
}

describe('latency throttle, two dependencies behind one suite', () => {
  it('keeps the fast dependency near its healthy p99 and bounds the slow one; without it both degrade', async () => {
    const off = await run(undefined);
    const on = await run({
      // 0.5 s buckets, the newest one for the recent delay: the slow turn shows within a second.
      // At most 98 % of the slow calls shed: the default 0.9 would let through 10 of its 100
      // calls/s, 4 more calls in flight at 400 ms each, on top of what the throttle holds.
      latencyThrottle: {
        activeInFlight: ACTIVE_IN_FLIGHT,
        windowMs: 10_000,
        bucketNums: 20,
        latencyBuckets: 1,
        minDelayMs: 100,
        maxRejectProbability: 0.98,
      },
    });
    const s = { off: summary(off), on: summary(on) };
    if (process.env.SHOW) console.log(JSON.stringify(s));
    // Every fast call succeeded, in both runs: only the slow key is ever shed.
    expect(
      [off.slow.fastCodes, on.slow.fastCodes].map((m) => [...m.keys()]),
      JSON.stringify(s),
    ).toEqual([[grpc.status.OK], [grpc.status.OK]]);
    expect(on.shed.latency.get('app/dep.v1.Fast/Get'), JSON.stringify(s)).toBeUndefined();
    expect(on.shed.latency.get('app/dep.v1.Slow/Get') ?? 0, JSON.stringify(s)).toBeGreaterThan(0);
    // Off: the slow dependency takes every worker and the fast one waits behind it (measured
    // from 2 s after the turn, as with the throttle on, which needs the first slow calls to
    // show their delay before it acts).
    expect(s.off.slowInFlightMax, JSON.stringify(s)).toBe(WORKERS);
    expect(s.off.slowFastP99, JSON.stringify(s)).toBeGreaterThan(3 * s.off.healthyFastP99);
    expect(s.off.slowInFlightMean, JSON.stringify(s)).toBeGreaterThanOrEqual(WORKERS - 2);
    // On: the fast dependency's p99 within 1.5× of its healthy one (plus 10 ms for a loaded
    // machine's timer jitter, plus the longest stall of the event loop in the measured slow
    // phase: a stall delays every call in flight, and a few such calls are the p99 of some 250;
    // waiting for a worker, what the throttle prevents, stalls nothing), and the slow one's calls
    // in flight held near activeInFlight on average (the throttle turns off below
    // releaseInFlight, and the calls it lets through to keep measuring make short peaks), far
    // from the pool it fills without the throttle.
    expect(s.on.slowFastP99, JSON.stringify(s)).toBeLessThanOrEqual(
      1.5 * s.on.healthyFastP99 + 10 + s.on.slowLoopStallMs,
    );
    expect(s.on.slowInFlightMean, JSON.stringify(s)).toBeLessThanOrEqual(ACTIVE_IN_FLIGHT + 4);
  }, 60_000);
});

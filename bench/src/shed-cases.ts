// The latency throttle's scenario (packages/testkit/src/two-dependencies.ts):
// two dependencies behind one suite, called by a pool of workers; one turns
// 20× slow. Throttle off and on alternate in one process.
import { grpc } from '@cbsuite/testkit/echo.js';
import { quantile, type TwoDependencyResult, twoDependencies } from '@cbsuite/testkit/two-dependencies.js';
import type { Case } from './core-cases.js';
import { median } from './harness.js';

const THROTTLE = {
  latencyThrottle: {
    activeInFlight: 8,
    windowMs: 10_000,
    bucketNums: 20,
    latencyBuckets: 1,
    minDelayMs: 100,
    maxRejectProbability: 0.98,
  },
};

const run = (on: boolean, smoke: boolean) =>
  twoDependencies({
    workers: 20,
    ratePerSec: 200,
    delayMs: 20,
    slowFactor: 20,
    healthyMs: smoke ? 300 : 2000,
    slowMs: smoke ? 600 : 4500,
    settleMs: smoke ? 300 : 2000,
    shedding: on ? THROTTLE : undefined,
  });

const slowCalls = (r: TwoDependencyResult) => [...r.slow.slowCodes.values()].reduce((a, b) => a + b, 0);

export const shedCases: Record<string, Case> = {
  'shed/two-deps': async (_o, smoke) => {
    const f: Record<string, number[]> = {};
    const put = (k: string, v: number) => {
      f[k] ??= [];
      f[k].push(v);
    };
    for (let trial = 0; trial < (smoke ? 1 : 2); trial++) {
      for (const on of [false, true]) {
        const r = await run(on, smoke);
        const failed = [...r.slow.fastCodes.keys()].some((c) => c !== grpc.status.OK);
        if (failed) throw new Error('a call to the fast dependency failed');
        const p = on ? 'on' : 'off';
        put('healthyP50', quantile(r.healthy.fastMs, 0.5));
        put('healthyP99', quantile(r.healthy.fastMs, 0.99));
        put(`${p}P50`, quantile(r.slow.fastMs, 0.5));
        put(`${p}P99`, quantile(r.slow.fastMs, 0.99));
        put(`${p}InFlight`, r.slow.slowInFlightMean);
        put(`${p}InFlightMax`, r.slow.slowInFlightMax);
        if (on) {
          put('onP99Ratio', quantile(r.slow.fastMs, 0.99) / quantile(r.healthy.fastMs, 0.99));
          put('onShedPercent', (100 * (r.slow.slowCodes.get(grpc.status.RESOURCE_EXHAUSTED) ?? 0)) / slowCalls(r));
        }
      }
    }
    return Object.fromEntries(Object.entries(f).map(([k, v]) => [k, median(v)]));
  },
};

// A retry storm: client processes, started together, against a downstream
// whose every instance refuses every stream (REFUSED_STREAM, an attempt any
// method may retry), with and without the suite's retry budget. Attempts per
// logical call is what the fleet's suites count, summed over its processes;
// the downstream counts the streams it refuses, as a cross-check. Without a
// budget each call makes maxAttempts.
import { startRefuseServer } from '@cbsuite/testkit/refuse-server.js';
import { StormFleet } from '@cbsuite/testkit/storm-fleet.js';
import type { StormResult, StormSuiteOptions } from '@cbsuite/testkit/storm-node.js';
import type { Case } from './core-cases.js';

/** Client processes in the storm; `BENCH_STORM_NODES` sets another number. */
const NODES = Number(process.env.BENCH_STORM_NODES ?? 4);
const IN_FLIGHT = 16;
// The default budget's reserve: minRetriesPerSec (10) × ttl (10 s), per process.
const RESERVE = 100;
// Its ten slices are aligned to the clock: a withdrawal expires 9 to 10 s after it was made.
const EXPIRY_MS = 9000;

const sum = (rs: readonly StormResult[], f: (r: StormResult) => number) => rs.reduce((n, r) => n + f(r), 0);

export const retryCases: Record<string, Case> = {
  'retry/storm': async (_o, smoke) => {
    if (!Number.isInteger(NODES) || NODES < 1) {
      throw new RangeError(`BENCH_STORM_NODES must be an integer >= 1, got ${process.env.BENCH_STORM_NODES}`);
    }
    const servers = [await startRefuseServer(), await startRefuseServer()];
    const target = `ipv4:${servers.map((s) => s.address).join(',')}`;
    const refused = () => servers.reduce((n, s) => n + s.refused(), 0);
    const nodes = smoke ? 2 : NODES;
    const calls = smoke ? 100 : 5000;
    const all = nodes * calls;
    const fleet = await StormFleet.start(nodes, target);
    const storm = async (suite: StormSuiteOptions) => {
      const before = refused();
      const rs = await fleet.storm({
        calls,
        inFlight: IN_FLIGHT,
        // The service breaker never opens: every call reaches the downstream.
        suite: { defaultServiceCBConfig: { minSample: 1_000_000 }, ...suite },
      });
      const failed = sum(rs, (r) => r.failed);
      if (failed !== all) throw new Error(`${all - failed} calls succeeded against a refusing downstream`);
      const attempts = all + sum(rs, (r) => r.retries);
      const streams = refused() - before;
      return { rs, attempts: attempts / all, streams: streams / all, streamsPerAttempt: streams / attempts };
    };
    // The retry stop and the instance breakers (which trip on refused streams) are off in
    // the first two, so that the budget alone is measured; the last has every default.
    const only = { retryStopErrRate: false, instanceCBConfig: { enable: false } } as const;
    const storms = async () => ({
      without: await storm({ ...only, retryBudget: false }),
      withBudget: await storm(only),
      defaults: await storm({}),
    });
    const { without, withBudget, defaults } = await storms().finally(() =>
      Promise.all([fleet.close(), ...servers.map((s) => s.close())]),
    );
    // Finagle's budget allows, over any ttl (10 s), minRetriesPerSec × ttl (100) retries plus 0.2 per call. Its
    // slices are aligned to the clock, so the reserve's withdrawals expire after 9 to 10 s: over a run of T s the
    // reserve gives at most 100 × (1 + floor(T / 9)) retries, whatever the traffic. Each process has a budget of
    // its own, so each has that reserve, over its own run. Less those, the budget's share of the calls is what is
    // left, and that is what must stay at or below 0.2 per call, summed over the fleet.
    const reserveOf = (r: StormResult) => RESERVE * (1 + Math.floor(r.ms / EXPIRY_MS));
    const reserve = sum(withBudget.rs, reserveOf);
    const beyond = sum(withBudget.rs, (r) => Math.max(0, r.retries - reserveOf(r)));
    const seconds = Math.max(...withBudget.rs.map((r) => r.ms)) / 1000;
    return {
      nodes,
      noBudgetAttempts: without.attempts,
      noBudgetStreams: without.streams,
      budgetAttempts: withBudget.attempts,
      budgetBound: 1.2 + reserve / all,
      budgetBeyondReserve: (all + beyond) / all,
      budgetSeconds: seconds,
      budgetStreams: withBudget.streams,
      budgetStreamsPerAttempt: withBudget.streamsPerAttempt,
      budgetRefusals: sum(withBudget.rs, (r) => r.budgetRefusals) / all,
      defaultsAttempts: defaults.attempts,
      defaultsMethodStops: sum(defaults.rs, (r) => r.methodStops) / all,
      callsPerSec: all / seconds,
    };
  },
};

// What each suite measures and how its tables are laid out.

import { allocCases } from './alloc-cases.js';
import { type Case, coreCases } from './core-cases.js';
import { faultCases } from './fault-cases.js';
import { fleetCases } from './fleet-cases.js';
import { grpcCases } from './grpc-cases.js';
import { hedgingCases } from './hedging-cases.js';
import { pickCases } from './pick-cases.js';
import { retryCases } from './retry-cases.js';
import { scaleCases } from './scale-cases.js';
import { shedCases } from './shed-cases.js';

export interface Row {
  readonly id: string;
  readonly label: string;
  /** The case this row is divided by, in the "× baseline" column. */
  readonly baseline?: string;
  /** Divided by each peer, in the "× peer" columns. */
  readonly vsPeers?: boolean;
  readonly goal?: string;
  /** This row's unit, when it differs from its group's. */
  readonly unit?: Unit;
}

/** A Cluster case's two rows: its cost per (node, key) and its busiest master's share. */
function clusterRows(id: string, label: string): Row[] {
  return [
    { id: `cluster/${id}.cpuPerPair`, label: `${label}, per (node, key) per s` },
    { id: `cluster/${id}.busiestShare`, label: `${label}, busiest master's share`, unit: 'ratio', goal: '≤ 0.5' },
  ];
}

export type Unit = 'ns' | 'us' | 'bytes' | 'rate' | 'perSec' | 'ms' | 'count' | 'ratio' | 'pct';

export interface Group {
  readonly title: string;
  readonly unit: Unit;
  readonly peers: Readonly<Record<string, string>>;
  readonly rows: readonly Row[];
  readonly note?: string;
}

export interface Suite {
  readonly title: string;
  /** Processes per case, when not the default (cases that measure over seconds already repeat rounds inside). */
  readonly processes?: number;
  readonly cases: Readonly<Record<string, Case>>;
  readonly groups: readonly Group[];
}

const PEERS = { opossum: 'execute/opossum', cockatiel: 'execute/cockatiel' };

export const suites: Record<string, Suite> = {
  core: {
    title: '@cbsuite/core engine',
    cases: coreCases,
    groups: [
      {
        title: 'isAllowed + succeed (one synchronous pair per call)',
        unit: 'ns',
        peers: {},
        note: 'opossum and cockatiel have no synchronous check; the baseline is a Map.get plus a typed-array increment over the same keys.',
        rows: [
          { id: 'pair/baseline-1', label: 'baseline: Map.get + increment, 1 key' },
          {
            id: 'pair/panel-1',
            label: 'Panel.isAllowed + succeed, 1 key',
            baseline: 'pair/baseline-1',
            goal: '≤ 30 ns',
          },
          { id: 'pair/baseline-10k', label: 'baseline: Map.get + increment, 10,000 keys' },
          {
            id: 'pair/panel-10k',
            label: 'Panel.isAllowed + succeed, 10,000 keys',
            baseline: 'pair/baseline-10k',
            goal: '≤ 30 ns',
          },
          {
            id: 'pair/held-10k',
            label: 'getBreaker + acquire + succeed, 10,000 keys',
            baseline: 'pair/baseline-10k',
          },
        ],
      },
      {
        title: 'Load shedding on but idle, per call (isAllowed + succeed around it)',
        unit: 'ns',
        peers: {},
        note: 'The process is not starving and no limit is near: this is what shedding costs a call that it lets through. One process alternates the plain pair and the pair with shedding, five rounds; "added" is the median of the per-round differences.',
        rows: [
          { id: 'shed/idle.pair', label: 'Panel.isAllowed + succeed, 1 key (the plain pair)' },
          { id: 'shed/idle.latency', label: 'with the latency throttle (start + end)', baseline: 'shed/idle.pair' },
          { id: 'shed/idle.latencyAdded', label: 'added per call by the latency throttle', goal: '≤ 20 ns' },
          { id: 'shed/idle.adaptiveAdded', label: 'added per call by adaptive throttling', goal: '≤ 20 ns' },
          { id: 'shed/idle.concurrencyAdded', label: 'added per call by the concurrency limit', goal: '≤ 20 ns' },
          {
            id: 'shed/idle.all',
            label: 'with concurrency limit + adaptive + latency throttle',
            baseline: 'shed/idle.pair',
          },
          { id: 'shed/idle.allAdded', label: 'added per call by all three' },
        ],
      },
      {
        title: 'execute(fn), every call succeeds',
        unit: 'ns',
        peers: PEERS,
        rows: [
          { id: 'execute/baseline', label: 'baseline: await fn()' },
          {
            id: 'execute/cbsuite',
            label: 'Panel.execute(key, fn)',
            baseline: 'execute/baseline',
            vsPeers: true,
            goal: '≤ 1.2× bare',
          },
          { id: 'execute/opossum', label: 'opossum fire() (timeout off)', baseline: 'execute/baseline' },
          { id: 'execute/baseline-io', label: 'baseline: await fn() that waits one event-loop turn' },
          { id: 'execute/cbsuite-io', label: 'Panel.execute(key, that fn)', baseline: 'execute/baseline-io' },
          { id: 'execute/cockatiel', label: 'cockatiel execute() (SamplingBreaker)', baseline: 'execute/baseline' },
        ],
      },
      {
        title: 'execute(fn), 10 % of calls fail',
        unit: 'ns',
        peers: { opossum: 'failures/opossum', cockatiel: 'failures/cockatiel' },
        rows: [
          { id: 'failures/baseline', label: 'baseline: await fn() in try/catch' },
          { id: 'failures/cbsuite', label: 'Panel.execute(key, fn)', baseline: 'failures/baseline', vsPeers: true },
          { id: 'failures/opossum', label: 'opossum fire(), defaults', baseline: 'failures/baseline' },
          {
            id: 'failures/opossum-tuned',
            label: 'opossum fire(), percentiles and snapshots off',
            baseline: 'failures/baseline',
          },
          { id: 'failures/cockatiel', label: 'cockatiel execute() (SamplingBreaker)', baseline: 'failures/baseline' },
        ],
      },
      {
        title: 'rejection while OPEN',
        unit: 'ns',
        peers: { opossum: 'reject/opossum', cockatiel: 'reject/cockatiel' },
        rows: [
          { id: 'reject/baseline', label: 'baseline: await Promise.reject(preallocated error)' },
          { id: 'reject/floor', label: 'floor: await one already-handled rejected promise' },
          { id: 'reject/cbsuite-isAllowed', label: 'Panel.isAllowed → false (synchronous)', goal: '≤ 100 ns' },
          {
            id: 'reject/cbsuite',
            label: 'Panel.execute → CircuitBreakerError',
            baseline: 'reject/baseline',
            vsPeers: true,
          },
          { id: 'reject/opossum', label: 'opossum fire() → EOPENBREAKER', baseline: 'reject/baseline' },
          { id: 'reject/cockatiel', label: 'cockatiel execute() → BrokenCircuitError', baseline: 'reject/baseline' },
        ],
      },
      {
        title: 'retained memory per breaker (heap + array buffers, after GC)',
        unit: 'bytes',
        peers: { opossum: 'memory/opossum', cockatiel: 'memory/cockatiel' },
        note: 'cbsuite: 100,000 keys in one Panel, one success each, default 100 × 100 ms window (key strings excluded). Peers: 10,000 instances with their defaults.',
        rows: [
          { id: 'memory/cbsuite', label: 'cbsuite Breaker in a Panel', vsPeers: true, goal: '≤ 2 KiB' },
          { id: 'memory/opossum', label: 'opossum CircuitBreaker' },
          { id: 'memory/cockatiel', label: 'cockatiel circuitBreaker (SamplingBreaker 10 s)' },
        ],
      },
    ],
  },
  grpc: {
    title: '@cbsuite/grpc-interceptor over loopback',
    cases: { ...grpcCases, ...pickCases, ...allocCases, ...retryCases, ...hedgingCases, ...faultCases, ...shedCases },
    groups: [
      {
        title: 'unary throughput, client and server in separate processes, 16 calls in flight',
        unit: 'rate',
        peers: {},
        note: 'Per process: twenty-four rounds of 0.25 s per variant, each an order of the variants and its reverse (A-B-C-C-B-A), the rounds going through every order in turn (with one fixed order, a control placed second read 0.94–0.95 in every run); client pinned to CPU 0 and server to CPU 1, after 3 s of warm-up each; ratios are medians of the per-round ratios, then the median over three processes. The control is a second bare client measured the same way: its distance from 1.00 is the noise of this measurement on this machine. The in-process figure below is the precise cost.',
        rows: [
          { id: 'unary/throughput.bare', label: 'bare grpc-js' },
          { id: 'unary/throughput.control', label: 'bare grpc-js, a second client (control)' },
          { id: 'unary/throughput.cbsuite', label: 'with cbs.interceptor()' },
          { id: 'unary/throughput.cbsuiteRatio', label: 'throughput ratio with / bare', unit: 'ratio', goal: '≥ 0.97' },
          { id: 'unary/throughput.controlRatio', label: 'throughput ratio control / bare (noise)', unit: 'ratio' },
          { id: 'unary/throughput.bareCpu', label: 'client CPU per call, bare (µs)', unit: 'count' },
          { id: 'unary/throughput.cbsuiteCpu', label: 'client CPU per call, with (µs)', unit: 'count' },
          {
            id: 'unary/throughput.cbsuiteCpuRatio',
            label: 'client CPU ratio with / bare',
            unit: 'ratio',
            goal: '≤ 1.03',
          },
          { id: 'unary/throughput.controlCpuRatio', label: 'client CPU ratio control / bare (noise)', unit: 'ratio' },
        ],
      },
      {
        title: 'service interceptor alone: one unary call through the interceptor, in process, no network',
        unit: 'ns',
        peers: {},
        note: "The call below the interceptor answers at once, so this is the interceptor machinery only. The call alone: an interceptor that returns next(options), adding no layer; the baseline of 'added per call'. A pass-through interceptor written the usual way (new InterceptingCall(next(options))) adds a layer grpc-js builds per call; cbs.interceptor() hands grpc-js its own call object and adds none. A unary call over loopback costs the client about 300 µs of CPU on this machine.",
        rows: [
          { id: 'unary/interceptor.bare', label: 'the call alone (an interceptor returning next(options))' },
          {
            id: 'unary/interceptor.noop',
            label: 'a pass-through interceptor (new InterceptingCall(next(options)))',
            baseline: 'unary/interceptor.bare',
          },
          {
            id: 'unary/interceptor.cbsuite',
            label: 'cbs.interceptor() (check, record)',
            baseline: 'unary/interceptor.bare',
          },
          { id: 'unary/interceptor.added', label: 'added per call, over the call alone' },
          {
            id: 'unary/interceptor.shedding',
            label: 'cbs.interceptor() with serviceShedding (all three, idle)',
            baseline: 'unary/interceptor.cbsuite',
          },
          { id: 'unary/interceptor.sheddingAdded', label: 'added per call by the shedding, over the breaker' },
        ],
      },
      {
        title: 'instance level: unary throughput on three instances (one server process)',
        unit: 'rate',
        peers: {},
        note: "Same rounds as above. The server does no work, so nearly all of a call's client CPU is grpc-js and HTTP/2; the instance level adds per call its record of the call (carried to the picker as the metadata's options), the wrapped pick and the attempt tracking. In a `node --cpu-prof --single-threaded` profile of the suite's client, cbsuite's own functions took about 3 % of its CPU and the garbage collector about 40 %: the table below gives what the suite allocates. The control's distance from 1.00 is this measurement's noise in the run.",
        rows: [
          { id: 'instance/throughput.roundRobin', label: 'plain round_robin' },
          { id: 'instance/throughput.cbsuite', label: 'cbs.channelOptions() + cbs.interceptor()' },
          {
            id: 'instance/throughput.cbsuiteRatio',
            label: 'throughput ratio cbsuite / round_robin',
            unit: 'ratio',
            goal: '≥ 0.97',
          },
          {
            id: 'instance/throughput.controlRatio',
            label: 'throughput ratio control / round_robin (noise)',
            unit: 'ratio',
          },
          { id: 'instance/throughput.roundRobinCpu', label: 'client CPU per call, round_robin (µs)', unit: 'count' },
          { id: 'instance/throughput.cbsuiteCpu', label: 'client CPU per call, cbsuite (µs)', unit: 'count' },
          {
            id: 'instance/throughput.cbsuiteCpuRatio',
            label: 'client CPU ratio cbsuite / round_robin',
            unit: 'ratio',
            goal: '≤ 1.05',
          },
          {
            id: 'instance/throughput.controlCpuRatio',
            label: 'client CPU ratio control / round_robin (noise)',
            unit: 'ratio',
          },
        ],
      },
      {
        title: 'instance level: cost of one attempt in the picker (pick, start, end; three instances)',
        unit: 'ns',
        peers: {},
        note: "Each attempt as grpc-js's load-balancing call runs it: pick, createCall on the pick's real subchannel, the end. The child is grpc-js's own round_robin, run over three stub subchannels that are READY (bench/src/stub-policy.ts); a stub's call keeps its listener and has grpc-js's two methods on its prototype. Three alternating rounds per process, medians. Untagged: the call's metadata carries no call state, as for a call made outside the suite. Tagged: as the suite's interceptor sends a call, its state the metadata's options; both the bare and the tagged loop make, tag and end a call's state, and the row is the bare pick plus the difference. A breaker picker with a view per attempt: the child's pick, the picked address's breaker looked up and asked, a view of the subchannel that is its call's listener and the pick result, the outcome recorded at the end; no call state, tried instances, ejection, panic, probe or stream-end bookkeeping. One that allocates nothing per attempt: the breaker and a function recording on it made once per subchannel, that function set as the child's pick's onCallEnded; it sees only the final code of an attempt (bench/src/scale-pickers.ts). It is the least a picker that asks and feeds a Kitex breaker on every attempt costs. Its onCallEnded runs before the caller's interceptors get the status, but grpc-js passes it the code alone (the details and trailers too from 1.14): neither how the attempt's stream ended nor which call it was, which the suite's retries on another instance need; only the listener of the attempt's subchannel call hears that. One that also hears it, as the least the suite's retries need, allocating nothing per attempt (bench/src/call-view-picker.ts): each subchannel wrapped once, as grpc-js's outlier_detection wraps them, holding its breaker; the call's own record (made by the caller, as the suite's interceptor makes its call state, and handed over as the metadata's options) notes the pick and listens to the attempt's subchannel call, which gives it the status with its rstCode, and records the attempt; tried instances kept; no probe, latency, ejection or panic bookkeeping. Untagged, it records through onCallEnded, and its wrapper forwards the call's start. Every loop hands the status to the stub call's listener before onCallEnded, as grpc-js does. grpc-js's outlier_detection, with failure-percentage ejection on so that it counts every call, over the same round_robin: what the Node gRPC library's own per-attempt picker costs.",
        rows: [
          { id: 'instance/pick.child', label: 'grpc-js round_robin (pick, createCall on a stub)' },
          {
            id: 'instance/pick.floor',
            label: 'a breaker picker with a view per attempt (one breaker, a view, one record)',
            baseline: 'instance/pick.child',
          },
          {
            id: 'instance/pick.lean',
            label: 'a breaker picker that allocates nothing per attempt',
            baseline: 'instance/pick.child',
          },
          {
            id: 'instance/pick.callViewTagged',
            label: "one that also hears each attempt's stream end, allocating nothing (tagged)",
            baseline: 'instance/pick.child',
          },
          {
            id: 'instance/pick.callView',
            label: 'the same, untagged',
            baseline: 'instance/pick.child',
          },
          {
            id: 'instance/pick.wrapped',
            label: 'wrapped by the breaker picker, untagged (check, view, start, record)',
            baseline: 'instance/pick.child',
            goal: '≤ 3×',
          },
          { id: 'instance/pick.added', label: 'added per untagged pick' },
          {
            id: 'instance/pick.tagged',
            label: "wrapped by the breaker picker, tagged as the suite's calls are",
            baseline: 'instance/pick.child',
            goal: '≤ 3×',
          },
          { id: 'instance/pick.taggedAdded', label: 'added per tagged pick' },
          {
            id: 'instance/pick.outlierDetection',
            label: "grpc-js's own outlier_detection over round_robin (counting calls)",
            baseline: 'instance/pick.child',
          },
        ],
      },
      {
        title: 'instance level: heap allocated per unary call, client side (three instances, one server process)',
        unit: 'bytes',
        peers: {},
        note: "V8's sampling heap profiler over 20,000 calls per variant (16 in flight), one sample per 256 bytes, objects collected since included; three alternating rounds in one process after 30,000 warm-up calls each, medians. The client spends about 40 % of its main thread collecting garbage, so what the suite allocates is most of its CPU cost over round_robin.",
        rows: [
          { id: 'instance/alloc.roundRobin', label: 'plain round_robin' },
          {
            id: 'instance/alloc.cbsuite',
            label: 'cbs.channelOptions() + cbs.interceptor()',
            baseline: 'instance/alloc.roundRobin',
          },
          { id: 'instance/alloc.added', label: 'added per call by the suite' },
        ],
      },
      {
        title: 'instance level: failover, one of three instances killed (SIGKILL) under load, 8 calls in flight',
        unit: 'count',
        peers: {},
        note: 'Say is marked idempotent (calls in flight on the dead instance are retried elsewhere); instance trip: rate or 3 consecutive errors. Three trials of 3 s in each of three processes; failed calls are the worst trial, times the median.',
        rows: [
          { id: 'instance/failover.failedMax', label: 'calls the caller saw fail (worst trial)', goal: '0' },
          { id: 'instance/failover.openMs', label: 'kill → dead instance breaker OPEN (median)', unit: 'ms' },
          { id: 'instance/failover.openMsMax', label: 'kill → OPEN (worst trial)', unit: 'ms' },
          { id: 'instance/failover.skips', label: 'picks of the dead instance skipped by its breaker (median)' },
          { id: 'instance/failover.callsPerSec', label: 'calls per second', unit: 'rate' },
        ],
      },
      {
        title:
          'instance level: faults with robustInstance(), one of three instances, 50 calls in flight, 500 ms deadline',
        unit: 'count',
        peers: {},
        note: "Servers answer after 5 ms; the fault starts 1 s into the run and heals at 4 s; the run ends at 9 s. Say is marked idempotent. Skipped: the instance's breaker opened or outlier ejection ejected it. Back: the first call it answered after healing (for a kill, after the respawned process listens on the same port). Failed calls are counted from the fault to the end of the run. Medians over three processes, one run of each fault in each.",
        rows: [
          { id: 'instance/faults.killFailed', label: 'killed (SIGKILL), respawned: calls the caller saw fail' },
          { id: 'instance/faults.killFailedPct', label: 'kill: share of calls failed', unit: 'pct', goal: '≤ 1 %' },
          { id: 'instance/faults.killSkipMs', label: 'kill: fault → instance skipped', unit: 'ms', goal: '≤ 100 ms' },
          { id: 'instance/faults.killBackMs', label: 'kill: healed → back in rotation', unit: 'ms', goal: '≤ 5 s' },
          { id: 'instance/faults.hangFailed', label: 'hung (SIGSTOP), SIGCONT: calls the caller saw fail' },
          { id: 'instance/faults.hangFailedPct', label: 'hang: share of calls failed', unit: 'pct', goal: '≤ 1 %' },
          { id: 'instance/faults.hangSkipMs', label: 'hang: fault → instance skipped', unit: 'ms', goal: '≤ 2 s' },
          { id: 'instance/faults.hangBackMs', label: 'hang: healed → back in rotation', unit: 'ms', goal: '≤ 5 s' },
          { id: 'instance/faults.refuseFailed', label: 'answering UNAVAILABLE: calls the caller saw fail' },
          { id: 'instance/faults.refuseFailedPct', label: 'refuse: share of calls failed', unit: 'pct', goal: '≤ 1 %' },
          { id: 'instance/faults.refuseSkipMs', label: 'refuse: fault → instance skipped', unit: 'ms', goal: '≤ 2 s' },
          { id: 'instance/faults.refuseBackMs', label: 'refuse: healed → back in rotation', unit: 'ms', goal: '≤ 5 s' },
          { id: 'instance/faults.slowFailed', label: '10× slow (50 ms): calls the caller saw fail' },
          { id: 'instance/faults.slowFailedPct', label: 'slow: share of calls failed', unit: 'pct', goal: '≤ 1 %' },
          { id: 'instance/faults.slowSkipMs', label: 'slow: fault → instance skipped', unit: 'ms', goal: '≤ 2 s' },
          { id: 'instance/faults.slowBackMs', label: 'slow: healed → back in rotation', unit: 'ms', goal: '≤ 5 s' },
        ],
      },
      {
        title:
          'retry storm: 4 client processes × 5,000 calls, 16 in flight each, against two instances refusing every stream',
        unit: 'ratio',
        peers: {},
        note: "Each client process (`BENCH_STORM_NODES`, default 4) runs a CBSuite and a grpc-js client; they connect, then start together. Attempts per call are the suites' own counts (`stats().retry`), summed over the processes; server streams are what the two instances refused. maxAttempts 3; grpc-js retries each refused stream once on its own, so a suite attempt is two streams. The retry stop and the instance breakers are off except in the defaults row. The default budget (Finagle's) allows 0.2 retries per call plus a reserve of minRetriesPerSec × ttl = 100 retries per 10 s window, whatever the traffic: over a run of T s at most 100 × (1 + ⌊T / 9⌋) (the window's slices are aligned to the clock, so a withdrawal expires after 9 to 10 s). Each process has a budget, so a reserve, of its own: the bound is 1.2 + N × reserve / calls, and the reserve's share grows with the run's length and the processes, and shrinks with the call rate; the goal holds the rest to 0.2 per call. Medians over three runs of the case, each with a fleet of its own.",
        rows: [
          { id: 'retry/storm.nodes', label: 'client processes (N)', unit: 'count' },
          { id: 'retry/storm.noBudgetAttempts', label: 'attempts per call, no budget' },
          { id: 'retry/storm.budgetAttempts', label: 'attempts per call, default budget' },
          { id: 'retry/storm.budgetBound', label: "Finagle's bound for that run: 1.2 + reserves / calls" },
          {
            id: 'retry/storm.budgetBeyondReserve',
            label: 'attempts per call, default budget, less the reserves',
            goal: '≤ 1.2',
          },
          { id: 'retry/storm.budgetSeconds', label: 'length of the default-budget run (s)', unit: 'count' },
          { id: 'retry/storm.defaultsAttempts', label: 'attempts per call, all defaults' },
          { id: 'retry/storm.noBudgetStreams', label: 'server streams per call, no budget' },
          { id: 'retry/storm.budgetStreams', label: 'server streams per call, default budget' },
          { id: 'retry/storm.budgetStreamsPerAttempt', label: 'server streams per suite attempt, default budget' },
        ],
      },
      {
        title:
          'hedged requests: three instances, one 10× slower on 15 % of its calls (5 % of all calls), 8 calls in flight',
        unit: 'ms',
        peers: {},
        note: "Each instance runs in a child process of its own and answers after 50 ms; the slow one after 500 ms on 15 % of its calls, at random. `hedging: { delayMs: 75 }` (1.5 × the usual answer time; maxAttempts 2), Say marked idempotent, default retry budget. Per process: 1,500 calls with hedging off, on, on, off; percentiles over each variant's 3,000 calls; medians over three processes. Attempts per call: the suite's attempts (first attempts plus hedges); instance attempts per call: attempts that reached an instance and ended, cancelled losers included.",
        rows: [
          { id: 'hedging/slow-instance.offP50', label: 'p50, hedging off' },
          { id: 'hedging/slow-instance.onP50', label: 'p50, hedging on' },
          { id: 'hedging/slow-instance.offP99', label: 'p99, hedging off' },
          { id: 'hedging/slow-instance.onP99', label: 'p99, hedging on' },
          { id: 'hedging/slow-instance.offP999', label: 'p99.9, hedging off' },
          { id: 'hedging/slow-instance.onP999', label: 'p99.9, hedging on' },
          { id: 'hedging/slow-instance.p99Ratio', label: 'p99 off / on', unit: 'ratio', goal: '≥ 3' },
          {
            id: 'hedging/slow-instance.attempts',
            label: 'attempts per call, hedging on',
            unit: 'ratio',
            goal: '≤ 1.10',
          },
          { id: 'hedging/slow-instance.arrivals', label: 'instance attempts per call, hedging on', unit: 'ratio' },
        ],
      },
      {
        title: 'latency throttle: two dependencies behind one suite, one turns 20× slow',
        unit: 'ms',
        peers: {},
        note: "A pool of 20 workers serves 200 requests/s, alternating between two dependencies that answer in 20 ms (the pool is a fifth busy); then one answers in 400 ms, and its calls alone would need twice the pool. A request's latency runs from its arrival, so it includes the wait for a free worker. Throttle: latencyThrottle { activeInFlight: 8, windowMs: 10_000, bucketNums: 20, latencyBuckets: 1, minDelayMs: 100, maxRejectProbability: 0.98 }. Measured from 2 s after the turn for 2.5 s; off and on alternate in one process, two trials each, medians.",
        rows: [
          { id: 'shed/two-deps.healthyP50', label: 'fast dependency p50, both healthy' },
          { id: 'shed/two-deps.healthyP99', label: 'fast dependency p99, both healthy' },
          { id: 'shed/two-deps.offP50', label: 'fast dependency p50, one slow, no throttle' },
          { id: 'shed/two-deps.offP99', label: 'fast dependency p99, one slow, no throttle' },
          { id: 'shed/two-deps.onP50', label: 'fast dependency p50, one slow, latency throttle' },
          {
            id: 'shed/two-deps.onP99',
            label: 'fast dependency p99, one slow, latency throttle',
            goal: '≤ 1.5× healthy',
          },
          { id: 'shed/two-deps.onP99Ratio', label: 'p99 with throttle / healthy p99', unit: 'ratio', goal: '≤ 1.5×' },
          { id: 'shed/two-deps.offInFlight', label: 'slow calls in flight (mean), no throttle', unit: 'count' },
          { id: 'shed/two-deps.onInFlight', label: 'slow calls in flight (mean), latency throttle', unit: 'count' },
          { id: 'shed/two-deps.onInFlightMax', label: 'slow calls in flight (max), latency throttle', unit: 'count' },
          { id: 'shed/two-deps.onShedPercent', label: "slow dependency's calls shed, %", unit: 'count' },
        ],
      },
    ],
  },
  fleet: {
    title: '@cbsuite/redis-sync: fleets on one Redis, synced and alone',
    cases: fleetCases,
    processes: 1,
    groups: [
      {
        title: 'a downstream outage: failing calls the fleet sends before every node is open',
        unit: 'count',
        peers: {},
        note: 'minSample 200, errRate 0.5, quorum 2, syncIntervalMs 200; the fleet sends 200 calls/s in all, spread over its nodes; medians of three trials. Alone, each node needs minSample failures of its own.',
        rows: [
          { id: 'outage/4.syncedFailing', label: '4 nodes, synced (median)' },
          { id: 'outage/4.syncedFailingMax', label: '4 nodes, synced (worst trial)' },
          { id: 'outage/4.syncedRatio', label: '4 nodes, synced, × minSample', unit: 'ratio', goal: '≤ 1.5×' },
          { id: 'outage/4.aloneFailing', label: '4 nodes, local only' },
          { id: 'outage/4.aloneRatio', label: '4 nodes, local only, × minSample', unit: 'ratio', goal: '≈ 4×' },
          { id: 'outage/8.syncedFailing', label: '8 nodes, synced (median)' },
          { id: 'outage/8.syncedFailingMax', label: '8 nodes, synced (worst trial)' },
          { id: 'outage/8.syncedRatio', label: '8 nodes, synced, × minSample', unit: 'ratio', goal: '≤ 1.5×' },
          { id: 'outage/8.aloneFailing', label: '8 nodes, local only' },
          { id: 'outage/8.aloneRatio', label: '8 nodes, local only, × minSample', unit: 'ratio', goal: '≈ 8×' },
        ],
      },
      {
        title: 'a warm fleet in a symmetric outage (4 nodes, synced, default quorum 2)',
        unit: 'count',
        peers: {},
        note: "The fleet calls successfully for 1 s at 200 calls/s in all (about minSample in the window), then every call fails. A single breaker for the whole fleet needs about minSample failing calls (errRate 0.5 against the warm successes). Fleet opens: the share of the nodes whose open was the fleet's (worst trial).",
        rows: [
          { id: 'warm/4.syncedFailing', label: 'failing calls before every node is open (median)' },
          { id: 'warm/4.syncedRatio', label: '× minSample', unit: 'ratio', goal: '≤ 1.5×' },
          { id: 'warm/4.fleetOpens', label: "opens that are the fleet's", unit: 'ratio', goal: '1' },
          { id: 'warm/4.spreadP99', label: 'first open to each other open, p99', unit: 'ms', goal: '≤ 400 ms' },
        ],
      },
      {
        title: 'a downstream outage: from the first node open to each other node open (synced)',
        unit: 'ms',
        peers: {},
        note: 'Over every node of the three trials. Goal: at most two sync intervals (400 ms) at p99.',
        rows: [
          { id: 'outage/4.spreadP50', label: '4 nodes, p50' },
          { id: 'outage/4.spreadP99', label: '4 nodes, p99', goal: '≤ 400 ms' },
          { id: 'outage/8.spreadP50', label: '8 nodes, p50' },
          { id: 'outage/8.spreadP99', label: '8 nodes, p99', goal: '≤ 400 ms' },
        ],
      },
      {
        title: 'Redis commands per node per second (5 keys, syncIntervalMs 200)',
        unit: 'perSec',
        peers: {},
        note: 'One synced node driving breaker calls (isAllowed + succeed, all successes) at the given rate for 12 s: quiet keys go every quietSyncIntervalMs (5 s). Goal: independent of the call rate.',
        rows: [
          { id: 'commands/1k.perNode', label: 'at 1,000 calls/s' },
          { id: 'commands/10k.perNode', label: 'at 10,000 calls/s' },
        ],
      },
      {
        title: 'call-path latency, sync on against off (unary gRPC over loopback, client on CPU 0)',
        unit: 'count',
        peers: {},
        note: "Forty-two rounds of 400 sequential calls per variant, each variant first, second and third in turn. The p50 ratios are the median over rounds of each round's ratio (a round's p50 to the same round's p50 without sync), so that a change of the machine's speed between rounds cancels out; the p99 ratios are over all calls. The control is a second client without sync, on a suite of its own, in the same rounds: its ratio to the first is this measurement's noise. Latencies in µs.",
        rows: [
          { id: 'latency/grpc.offP50', label: 'sync off, p50 (µs)' },
          { id: 'latency/grpc.onP50', label: 'sync on, p50 (µs)' },
          { id: 'latency/grpc.ratioP50', label: 'ratio on / off, p50', unit: 'ratio', goal: '≤ 1.02' },
          { id: 'latency/grpc.controlP50', label: 'A/A control: off again / off, p50', unit: 'ratio' },
          { id: 'latency/grpc.offP99', label: 'sync off, p99 (µs)' },
          { id: 'latency/grpc.onP99', label: 'sync on, p99 (µs)' },
          { id: 'latency/grpc.ratioP99', label: 'ratio on / off, p99', unit: 'ratio' },
          { id: 'latency/grpc.controlP99', label: 'A/A control: off again / off, p99', unit: 'ratio' },
        ],
      },
      {
        title: 'the same in the engine alone: acquire + succeed on a held breaker',
        unit: 'ns',
        peers: {},
        rows: [
          { id: 'latency/engine.off', label: 'no sync' },
          {
            id: 'latency/engine.on',
            label: 'synced (counts the outcome for the next flush)',
            baseline: 'latency/engine.off',
          },
        ],
      },
    ],
  },
  scale: {
    title: '@cbsuite/redis-sync at scale: simulated fleets running the real sync code',
    cases: scaleCases,
    processes: 1,
    groups: [
      {
        title: 'Redis CPU per (node, key) per second, one Redis (10 keys per node)',
        unit: 'us',
        peers: {},
        note: "Simulated nodes (a real RedisSync and Panel each, 250 per worker process) calling 10 keys 10 times a second each. Redis CPU is used_cpu_user + used_cpu_sys (INFO cpu) over 15 s, less what the same Redis spent with every node connected and idle (measured over 5 s before; Redis runs with hz 1, so that this idle cost, its timer's work, is small beside a small fleet's), divided by nodes × keys × seconds. Healthy: every call succeeds (keys flushed every quietSyncIntervalMs, 5 s). Partial outage: every node fails 30 % of its calls of every key, spread evenly, below the trip (errRate 0.5), for as long as it lasts (errors flushed every errorSyncIntervalMs, 1 s). Down: every call fails; the keys trip, stay open for the fleet and probe once per cooling (5 s). Failing, never tripping: half the calls fail on every node and minSample is out of reach (1e9), so every node is failing and flushes every key at every tick (200 ms): the worst case, which a real trip ends within seconds. Scripts' own time: the EVALSHA time in INFO commandstats over the same 15 s, per (node, key) per second, which needs no idle baseline: a check on the figure above, whose rest is Redis reading the requests and writing the replies.",
        rows: [
          { id: 'cpu/healthy-10.cpuPerPair', label: 'healthy, 10 nodes', goal: '≤ 5 µs' },
          { id: 'cpu/healthy-100.cpuPerPair', label: 'healthy, 100 nodes', goal: '≤ 5 µs' },
          { id: 'cpu/healthy-1000.cpuPerPair', label: 'healthy, 1,000 nodes', goal: '≤ 5 µs' },
          { id: 'cpu/partial-10.cpuPerPair', label: 'partial outage, 10 nodes', goal: '≤ 50 µs' },
          { id: 'cpu/partial-100.cpuPerPair', label: 'partial outage, 100 nodes', goal: '≤ 50 µs' },
          { id: 'cpu/partial-1000.cpuPerPair', label: 'partial outage, 1,000 nodes', goal: '≤ 50 µs' },
          { id: 'cpu/down-10.cpuPerPair', label: 'down, 10 nodes', goal: '≤ 50 µs' },
          { id: 'cpu/down-100.cpuPerPair', label: 'down, 100 nodes', goal: '≤ 50 µs' },
          { id: 'cpu/down-1000.cpuPerPair', label: 'down, 1,000 nodes', goal: '≤ 50 µs' },
          { id: 'cpu/failing-10.cpuPerPair', label: 'failing, never tripping, 10 nodes' },
          { id: 'cpu/failing-100.cpuPerPair', label: 'failing, never tripping, 100 nodes' },
          { id: 'cpu/failing-1000.cpuPerPair', label: 'failing, never tripping, 1,000 nodes' },
          { id: 'cpu/healthy-10.cmdPerPair', label: "healthy, 10 nodes: scripts' own time" },
          { id: 'cpu/healthy-1000.cmdPerPair', label: "healthy, 1,000 nodes: scripts' own time" },
          { id: 'cpu/partial-10.cmdPerPair', label: "partial outage, 10 nodes: scripts' own time" },
          { id: 'cpu/partial-1000.cmdPerPair', label: "partial outage, 1,000 nodes: scripts' own time" },
          { id: 'cpu/healthy-10.idleCpuPerSec', label: "healthy, 10 nodes: Redis's idle cost taken off, per second" },
          { id: 'cpu/down-1000.failedFlushes', label: 'down, 1,000 nodes: flushes that failed', unit: 'count' },
          { id: 'cpu/failing-1000.failedFlushes', label: 'failing, 1,000 nodes: flushes that failed', unit: 'count' },
        ],
      },
      {
        title: 'the same on a three-master Redis Cluster, 1,000 nodes',
        unit: 'us',
        peers: {},
        note: "CPU summed over the masters; the busiest master's share of the total (goal: at most a half). The 10 keys' names are picked to fall 4, 3 and 3 on the masters, each in a key group of its own (see bench/src/sim-keys.ts). A call covers one key group on a Cluster, so with the default 12 groups a node's flush here is ten calls where one Redis takes one: the Cluster's most expensive layout, which the per-pair goals of one Redis do not hold for. With `groups: 3` (as many groups as masters, the same on every node) a flush is at most one call per master. Flushes that failed: over the whole case, summed over the nodes (a failed flush keeps its counts for the next); 1,000 Cluster clients on two cores time some out.",
        rows: [
          ...clusterRows('healthy-1000', 'healthy'),
          ...clusterRows('partial-1000', 'partial outage'),
          ...clusterRows('down-1000', 'down'),
          { id: 'cluster/healthy-1000.failedFlushes', label: 'healthy, flushes that failed', unit: 'count' },
          { id: 'cluster/partial-1000.failedFlushes', label: 'partial outage, flushes that failed', unit: 'count' },
          { id: 'cluster/down-1000.failedFlushes', label: 'down, flushes that failed', unit: 'count' },
          ...clusterRows('healthy-1000-g3', 'groups: 3, healthy'),
          ...clusterRows('partial-1000-g3', 'groups: 3, partial outage'),
        ],
      },
      {
        title: '1,000 simulated nodes, one key: an outage, then the heal',
        unit: 'ms',
        peers: {},
        note: 'minSample 200 for the fleet, quorum 2, coolingTimeoutMs 3000, detectTimeoutMs 300, syncIntervalMs 200; each node calls twice a second.',
        rows: [
          { id: 'spread/1000.spreadP50', label: 'first open to each other open, p50' },
          { id: 'spread/1000.spreadP99', label: 'first open to each other open, p99', goal: '≤ 400 ms' },
          { id: 'spread/1000.fleetOpens', label: "share of the opens that are the fleet's", unit: 'ratio', goal: '1' },
          {
            id: 'spread/1000.probes',
            label: 'probes before the first close',
            unit: 'count',
            goal: '2 (halfOpenSuccesses)',
          },
          {
            id: 'spread/1000.probesPerInterval',
            label: 'most probes in one detect interval',
            unit: 'count',
            goal: '1',
          },
        ],
      },
    ],
  },
};

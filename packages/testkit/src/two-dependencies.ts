// Two dependencies behind one suite, called by a fixed pool of workers: the
// scenario of the latency throttle (issue 12), for its test and its benchmark.
//
// Node has no threads to run out of; what runs out is the caller's capacity
// to have calls in flight. Here that capacity is a pool of `workers` that
// each take the oldest waiting request, make the call and await it. Requests
// arrive at a fixed rate, alternating between the two dependencies. When the
// slow dependency holds the workers, requests wait for a free one, and a
// request's latency (from its arrival to its call's end) includes that wait:
// the fast dependency degrades though nothing is wrong with it.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { CBSuite, type CBSuiteOptions, type CBSuiteStats } from '@cbsuite/grpc-interceptor';
import * as grpc from '@grpc/grpc-js';

const passThrough = (b: Buffer) => b;
/** The event-loop delay monitor's tick: it reads each interval whole, so a stall is what it reads beyond this. */
const LOOP_TICK_MS = 5;
const EMPTY = Buffer.alloc(0);

/** The method path of dependency `name`. */
export const dependencyPath = (name: string): string => `/dep.v1.${name}/Get`;

/** A server of one dependency: a unary method answering after `delayMs()`. */
export interface Dependency {
  readonly name: string;
  readonly address: string;
  delayMs: number;
  close(): Promise<void>;
}

export async function startDependency(name: string, delayMs: number): Promise<Dependency> {
  const server = new grpc.Server();
  const def: grpc.ServiceDefinition = {
    Get: {
      path: dependencyPath(name),
      requestStream: false,
      responseStream: false,
      requestSerialize: passThrough,
      requestDeserialize: passThrough,
      responseSerialize: passThrough,
      responseDeserialize: passThrough,
    },
  };
  const dep: Dependency = {
    name,
    address: '',
    delayMs,
    close: () =>
      new Promise<void>((resolve) => {
        server.forceShutdown();
        resolve();
      }),
  };
  server.addService(def, {
    Get: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      setTimeout(() => cb(null, EMPTY), dep.delayMs);
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  (dep as { address: string }).address = `127.0.0.1:${port}`;
  return dep;
}

/** Calls `path` on `client`; resolves with the call's status code. */
export function callDependency(client: grpc.Client, path: string, deadlineMs = 30_000): Promise<grpc.status> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      path,
      passThrough,
      passThrough,
      EMPTY,
      { deadline: Date.now() + deadlineMs },
      (err: grpc.ServiceError | null) => resolve(err ? err.code : grpc.status.OK),
    );
  });
}

/** What one phase of the pool measured. */
export interface PhaseResult {
  /** Latencies of the fast dependency's requests, arrival to end, in ms, sorted. */
  readonly fastMs: readonly number[];
  /** Most calls to the slow dependency in flight at once (from `measureFromMs` on). */
  readonly slowInFlightMax: number;
  /** Calls to the slow dependency in flight, averaged over the requests' arrivals. */
  readonly slowInFlightMean: number;
  /** Requests per dependency, and how their calls ended (status code → count). */
  readonly fastCodes: ReadonlyMap<grpc.status, number>;
  readonly slowCodes: ReadonlyMap<grpc.status, number>;
  /**
   * The longest the event loop was held up while measured requests were in
   * the pool, in ms (Node's event-loop delay monitor at a 5 ms resolution):
   * a stall of the machine or the process (a collection, another process
   * taking the core) that delayed every call in flight by as much. Waiting for
   * a worker does not hold the loop up.
   */
  readonly loopStallMs: number;
}

export interface PoolOptions {
  readonly workers: number;
  /** Requests per second over both dependencies, alternating. */
  readonly ratePerSec: number;
  readonly durationMs: number;
  /** Requests arriving before this, ms into the phase, are served but not measured. Default 0. */
  readonly measureFromMs?: number;
}

/**
 * Runs the pool for `durationMs`: requests arrive at `ratePerSec` (a timer
 * making every request due since the start), alternating fast, slow, fast, …;
 * each is served by the first free worker. Resolves once every request has
 * been served.
 */
export async function runPool(fast: () => Promise<grpc.status>, slow: () => Promise<grpc.status>, o: PoolOptions) {
  const queue: { slow: boolean; at: number; measured: boolean }[] = [];
  const fastMs: number[] = [];
  const fastCodes = new Map<grpc.status, number>();
  const slowCodes = new Map<grpc.status, number>();
  let slowInFlight = 0;
  let slowInFlightMax = 0;
  let slowInFlightSum = 0;
  let made = 0;
  let counted = 0;
  let arrivalsDone = false;
  let wake: (() => void)[] = [];
  const loop = monitorEventLoopDelay({ resolution: LOOP_TICK_MS });
  let monitoring = false;
  const started = performance.now();
  const arrive = () => {
    const due = Math.min(
      Math.floor(((performance.now() - started) * o.ratePerSec) / 1000),
      Math.floor((o.durationMs * o.ratePerSec) / 1000),
    );
    const now = performance.now();
    const measured = now - started >= (o.measureFromMs ?? 0);
    if (measured && !monitoring) {
      monitoring = true;
      loop.enable();
    }
    for (; made < due; made++) {
      queue.push({ slow: made % 2 === 1, at: now, measured });
      if (!measured) continue;
      counted++;
      slowInFlightSum += slowInFlight;
      slowInFlightMax = Math.max(slowInFlightMax, slowInFlight);
    }
    if (performance.now() - started >= o.durationMs) arrivalsDone = true;
    for (const w of wake.splice(0)) w();
  };
  const timer = setInterval(arrive, 2);
  const worker = async () => {
    for (;;) {
      const r = queue.shift();
      if (r === undefined) {
        if (arrivalsDone) return;
        await new Promise<void>((resolve) => wake.push(resolve));
        continue;
      }
      if (r.slow) {
        slowInFlight++;
        if (r.measured) slowInFlightMax = Math.max(slowInFlightMax, slowInFlight);
        const code = await slow();
        slowInFlight--;
        if (r.measured) slowCodes.set(code, (slowCodes.get(code) ?? 0) + 1);
      } else {
        const code = await fast();
        if (!r.measured) continue;
        fastMs.push(performance.now() - r.at);
        fastCodes.set(code, (fastCodes.get(code) ?? 0) + 1);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: o.workers }, worker));
  } finally {
    clearInterval(timer);
    loop.disable();
    wake = [];
  }
  fastMs.sort((a, b) => a - b);
  const result: PhaseResult = {
    fastMs,
    slowInFlightMax,
    slowInFlightMean: counted === 0 ? 0 : slowInFlightSum / counted,
    fastCodes,
    slowCodes,
    loopStallMs: monitoring && loop.count > 0 ? Math.max(0, loop.max / 1e6 - LOOP_TICK_MS) : 0,
  };
  return result;
}

/** The `p` quantile (0 to 1) of sorted values, nearest rank. */
export function quantile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] as number;
}

/** The scenario: a healthy phase, then the slow dependency turns `slowFactor` times slower. */
export interface TwoDependencyOptions {
  readonly workers: number;
  readonly ratePerSec: number;
  /** Both dependencies' healthy delay, ms. */
  readonly delayMs: number;
  readonly slowFactor: number;
  readonly healthyMs: number;
  readonly slowMs: number;
  /** Into the slow phase, when measuring starts (the throttle needs slow calls to show their delay). */
  readonly settleMs: number;
  /** The suite's `serviceShedding`; undefined for none. */
  readonly shedding: CBSuiteOptions['serviceShedding'];
}

export interface TwoDependencyResult {
  readonly healthy: PhaseResult;
  readonly slow: PhaseResult;
  /** Calls shed per reason, over both phases. */
  readonly shed: CBSuiteStats['service']['shed'];
}

/** Runs the scenario with one suite (fromService `app`) in front of both dependencies. */
export async function twoDependencies(o: TwoDependencyOptions): Promise<TwoDependencyResult> {
  const deps = [await startDependency('Fast', o.delayMs), await startDependency('Slow', o.delayMs)] as const;
  // The breaker must not open on the slow calls' deadlines: only shedding is measured.
  const cbs = new CBSuite(undefined, {
    fromService: 'app',
    defaultServiceCBConfig: { enable: false },
    ...(o.shedding === undefined ? {} : { serviceShedding: o.shedding }),
  });
  const clients = deps.map(
    (d) => new grpc.Client(d.address, grpc.credentials.createInsecure(), { interceptors: [cbs.interceptor()] }),
  );
  try {
    await Promise.all(
      clients.map(
        (c) =>
          new Promise<void>((resolve, reject) =>
            c.waitForReady(Date.now() + 10_000, (err) => (err ? reject(err) : resolve())),
          ),
      ),
    );
    const [fastClient, slowClient] = clients as [grpc.Client, grpc.Client];
    const fast = () => callDependency(fastClient, dependencyPath('Fast'));
    const slow = () => callDependency(slowClient, dependencyPath('Slow'));
    const pool = { workers: o.workers, ratePerSec: o.ratePerSec };
    const healthy = await runPool(fast, slow, { ...pool, durationMs: o.healthyMs });
    deps[1].delayMs = o.delayMs * o.slowFactor;
    const slowPhase = await runPool(fast, slow, { ...pool, durationMs: o.slowMs, measureFromMs: o.settleMs });
    return { healthy, slow: slowPhase, shed: cbs.stats().service.shed };
  } finally {
    for (const c of clients) c.close();
    cbs.close();
    await Promise.all(deps.map((d) => d.close()));
  }
}

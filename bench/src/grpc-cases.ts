// gRPC over loopback: the service interceptor and the instance policy against
// bare grpc-js, client and servers in separate processes. Variants run in
// alternating rounds in one client process, so drift hits both alike.
import { anyTripFunc, consecutiveTripFunc, rateTripFunc } from '@cbsuite/core';
import { type CBStateChangeEvent, CBSuite } from '@cbsuite/grpc-interceptor';
import { pinToCpu, startServerProcess } from '@cbsuite/testkit/child-server.js';
import { EchoClient, grpc, ipv4Target, ROUND_ROBIN, say } from '@cbsuite/testkit/echo.js';
import type { Case } from './core-cases.js';
import { type MeasureOptions, measureSync, median } from './harness.js';

const insecure = () => grpc.credentials.createInsecure();

/** Unary calls per second with `concurrency` calls in flight for `ms`, and the client's CPU µs per call. */
async function throughput(client: EchoClient, ms: number, concurrency: number): Promise<[number, number]> {
  let done = 0;
  let failed = 0;
  const cpu = process.cpuUsage();
  const end = performance.now() + ms;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const r = await say(client, 'bench');
        if (r.error) failed++;
        else done++;
      }
    }),
  );
  if (failed > 0) throw new Error(`${failed} calls failed during a throughput round`);
  const used = process.cpuUsage(cpu);
  return [done / (ms / 1000), (used.user + used.system) / done];
}

/**
 * Rounds of a baseline A and variants B, C, …: each round runs an order and
 * then its reverse (A-B-C-C-B-A), which cancels a linear drift within the
 * round, and the rounds go through every order of the variants in turn. With
 * one fixed order the variant in the middle always ran twice in a row and
 * the second never did, and a plain round_robin control placed second read
 * 0.94 to 0.95 of the baseline in every run. The client is pinned to CPU 0
 * and the servers to CPU 1. Returns the medians of throughput and of client
 * CPU per call of each variant, and for each variant after the first the
 * medians of its per-round ratios to A (`<name>Ratio`, `<name>CpuRatio`):
 * a mean would let the one round a major collection fell in move it.
 *
 * No collection is forced between windows, though it would make rounds
 * agree far better (per-round CPU ratios spread 0.10 instead of 0.35): each
 * major collection ages the bytecode of functions that did not run since
 * the last, and V8 flushes it after a few, so the variant with the most code
 * of its own pays for compiling it again. The suite read 1.12–1.16× CPU that
 * way (four runs), and 1.08× with `--no-flush-bytecode` (one run).
 */
async function rounds(variants: [string, EchoClient][], smoke: boolean): Promise<Record<string, number>> {
  // A multiple of the six orders of three variants.
  const n = smoke ? 1 : 24;
  const ms = smoke ? 50 : 250;
  const [first] = variants;
  if (first === undefined) throw new Error('rounds needs a baseline');
  // Both processes' JIT warms up for seconds; warm each variant twice, alternating.
  for (let w = 0; w < 2; w++) for (const [, c] of variants) await throughput(c, smoke ? 50 : 1500, 16);
  const orders = permutations(variants);
  const tp = new Map<string, number[]>(variants.map(([k]) => [k, []]));
  const cpu = new Map<string, number[]>(variants.map(([k]) => [k, []]));
  const ratios = new Map<string, number[]>(variants.map(([k]) => [k, []]));
  const cpuRatios = new Map<string, number[]>(variants.map(([k]) => [k, []]));
  for (let r = 0; r < n; r++) {
    const sum = new Map<string, [number, number]>(variants.map(([k]) => [k, [0, 0]]));
    const order = orders[r % orders.length] as [string, EchoClient][];
    for (const [k, c] of [...order, ...[...order].reverse()]) {
      const [t, u] = await throughput(c, ms, 16);
      const acc = sum.get(k) as [number, number];
      acc[0] += t / 2;
      acc[1] += u / 2;
    }
    const [baseTp, baseCpu] = sum.get(first[0]) as [number, number];
    for (const [k] of variants) {
      const [t, u] = sum.get(k) as [number, number];
      tp.get(k)?.push(t);
      cpu.get(k)?.push(u);
      ratios.get(k)?.push(t / baseTp);
      cpuRatios.get(k)?.push(u / baseCpu);
    }
  }
  const out: Record<string, number> = {};
  for (const [k] of variants) {
    out[k] = median(tp.get(k) as number[]);
    out[`${k}Cpu`] = median(cpu.get(k) as number[]);
    if (k === first[0]) continue;
    out[`${k}Ratio`] = median(ratios.get(k) as number[]);
    out[`${k}CpuRatio`] = median(cpuRatios.get(k) as number[]);
  }
  return out;
}

/** Every order of `xs`. */
function permutations<T>(xs: T[]): T[][] {
  if (xs.length <= 1) return [xs];
  return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
}

type FullListener = {
  onReceiveMetadata(m: grpc.Metadata): void;
  onReceiveMessage(m: unknown): void;
  onReceiveStatus(s: grpc.StatusObject): void;
};
const OK_MD = new grpc.Metadata();
const OK_STATUS: grpc.StatusObject = { code: grpc.status.OK, details: '', metadata: OK_MD };
const REPLY = { text: 'ok' };

/** A stand-in for the channel's call that answers OK at once, synchronously: isolates interceptor cost. */
class InstantCall {
  private listener: FullListener | undefined;
  start(_m: grpc.Metadata, l: FullListener): void {
    this.listener = l;
  }
  sendMessageWithContext(): void {}
  sendMessage(): void {}
  startRead(): void {}
  halfClose(): void {
    const l = this.listener as FullListener;
    l.onReceiveMetadata(OK_MD);
    l.onReceiveMessage(REPLY);
    l.onReceiveStatus(OK_STATUS);
  }
  cancelWithStatus(): void {}
  getPeer(): string {
    return '127.0.0.1:1';
  }
  getAuthContext(): null {
    return null;
  }
}

/** ns per call through `interceptor` around an instant call: start, send, half-close, receive. */
function perCall(interceptor: grpc.Interceptor, o: MeasureOptions): number {
  const options = {
    method_definition: { path: '/echo.v1.Echo/Say', requestStream: false, responseStream: false },
  } as unknown as grpc.InterceptorOptions;
  const next = (() => new InstantCall()) as unknown as grpc.NextCall;
  const md = new grpc.Metadata();
  let statuses = 0;
  // As grpc-js's client passes it: all three methods.
  const listener = { onReceiveMetadata: () => {}, onReceiveMessage: () => {}, onReceiveStatus: () => statuses++ };
  const ns = measureSync((n) => {
    for (let i = 0; i < n; i++) {
      const call = interceptor(options, next);
      call.start(md, listener);
      call.sendMessage({ text: 'x' });
      call.halfClose();
    }
  }, o);
  if (statuses === 0) throw new Error('no status delivered');
  return ns;
}

export const grpcCases: Record<string, Case> = {
  'unary/interceptor': (o: MeasureOptions, smoke) => {
    const cbs = new CBSuite(undefined, { fromService: 'bench' });
    // Every shedder on, none near acting: what shedding costs a call it lets through.
    const shedding = new CBSuite(undefined, {
      fromService: 'bench',
      serviceShedding: {
        latencyThrottle: { activeInFlight: 1_000_000 },
        adaptiveThrottle: {},
        concurrencyLimit: { maxConcurrent: 1000 },
      },
    });
    // The call alone: an interceptor that hands grpc-js the next call, adding no layer.
    const bare: grpc.Interceptor = (options, next) => next(options) as grpc.InterceptingCall;
    // What a pass-through interceptor written the usual way costs: one InterceptingCall layer.
    const noop: grpc.Interceptor = (options, next) => new grpc.InterceptingCall(next(options));
    const bareNs: number[] = [];
    const noopNs: number[] = [];
    const cbsNs: number[] = [];
    const shedNs: number[] = [];
    for (let i = 0; i < (smoke ? 1 : 7); i++) {
      bareNs.push(perCall(bare, o));
      noopNs.push(perCall(noop, o));
      cbsNs.push(perCall(cbs.interceptor(), o));
      shedNs.push(perCall(shedding.interceptor(), o));
    }
    return {
      bare: median(bareNs),
      noop: median(noopNs),
      cbsuite: median(cbsNs),
      added: median(cbsNs.map((v, i) => v - (bareNs[i] as number))),
      shedding: median(shedNs),
      sheddingAdded: median(shedNs.map((v, i) => v - (cbsNs[i] as number))),
    };
  },

  'unary/throughput': async (_o, smoke) => {
    pinToCpu(0);
    const server = await startServerProcess(1, 0, 1);
    const target = server.addresses[0] as string;
    const cbs = new CBSuite(undefined, { fromService: 'bench' });
    const bare = new EchoClient(target, insecure());
    // A second bare client, measured like the others: how far apart two identical clients come out (the noise).
    const control = new EchoClient(target, insecure());
    const guarded = new EchoClient(target, insecure(), { interceptors: [cbs.interceptor()] });
    try {
      return await rounds(
        [
          ['bare', bare],
          ['control', control],
          ['cbsuite', guarded],
        ],
        smoke,
      );
    } finally {
      bare.close();
      control.close();
      guarded.close();
      await server.kill();
    }
  },

  'instance/throughput': async (_o, smoke) => {
    pinToCpu(0);
    const server = await startServerProcess(3, 0, 1);
    const target = ipv4Target(server.ports.map((port) => ({ port })));
    const cbs = new CBSuite(undefined, { fromService: 'bench' });
    const rr = new EchoClient(target, insecure(), ROUND_ROBIN);
    // A second plain round_robin client, measured like the others: the noise of this measurement.
    const control = new EchoClient(target, insecure(), ROUND_ROBIN);
    const guarded = new EchoClient(target, insecure(), { ...cbs.channelOptions(), interceptors: [cbs.interceptor()] });
    try {
      return await rounds(
        [
          ['roundRobin', rr],
          ['control', control],
          ['cbsuite', guarded],
        ],
        smoke,
      );
    } finally {
      rr.close();
      control.close();
      guarded.close();
      await server.kill();
    }
  },

  'instance/failover': async (_o, smoke) => {
    const trials = smoke ? 1 : 3;
    const failed: number[] = [];
    const openMs: number[] = [];
    const callsPerSec: number[] = [];
    const skips: number[] = [];
    for (let t = 0; t < trials; t++) {
      pinToCpu(0);
      const servers = await Promise.all([
        startServerProcess(1, 1, 1),
        startServerProcess(1, 1, 1),
        startServerProcess(1, 1, 1),
      ]);
      const victim = servers[1] as (typeof servers)[number];
      const dead = victim.addresses[0] as string;
      const cbs = new CBSuite(undefined, {
        fromService: 'bench',
        defaultServiceCBConfig: { minSample: 100_000 },
        idempotent: (ri) => ri.method === 'Say',
        instanceTripFunc: (cfg) => anyTripFunc(rateTripFunc(cfg.errRate, cfg.minSample), consecutiveTripFunc(3)),
      });
      let killedAt = 0;
      let openedAt = 0;
      cbs.onStateChange((e: CBStateChangeEvent) => {
        if (e.level === 'instance' && e.key === dead && e.toName === 'OPEN' && openedAt === 0)
          openedAt = performance.now();
      });
      const client = new EchoClient(ipv4Target(servers.map((s) => ({ port: s.ports[0] as number }))), insecure(), {
        ...cbs.channelOptions(),
        interceptors: [cbs.interceptor()],
      });
      for (let i = 0; i < 300; i++) await say(client, 'warm-up');
      let errors = 0;
      let calls = 0;
      const durationMs = smoke ? 600 : 3000;
      const start = performance.now();
      const killTimer = setTimeout(() => {
        killedAt = performance.now();
        void victim.kill();
      }, durationMs / 3);
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (performance.now() - start < durationMs) {
            const r = await say(client, 'load', { deadline: Date.now() + 5000 });
            calls++;
            if (r.error) errors++;
          }
        }),
      );
      clearTimeout(killTimer);
      failed.push(errors);
      openMs.push(openedAt > 0 ? openedAt - killedAt : Number.POSITIVE_INFINITY);
      callsPerSec.push(calls / (durationMs / 1000));
      skips.push(cbs.stats().instance.skips.get(dead) ?? 0);
      client.close();
      cbs.close();
      await Promise.all(servers.map((s) => s.kill()));
    }
    return {
      failedMax: Math.max(...failed),
      failedTotal: failed.reduce((a, b) => a + b, 0),
      openMs: median(openMs),
      openMsMax: Math.max(...openMs),
      callsPerSec: median(callsPerSec),
      skips: median(skips),
      trials,
    };
  },
};

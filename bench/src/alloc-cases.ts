// Bytes the client allocates per unary call, plain round_robin against the
// suite's instance level: in a client that spends about 40 % of its main
// thread collecting garbage, what the suite allocates is most of its cost.
import { Session } from 'node:inspector/promises';
import { CBSuite } from '@cbsuite/grpc-interceptor';
import { pinToCpu, startServerProcess } from '@cbsuite/testkit/child-server.js';
import { EchoClient, grpc, ipv4Target, ROUND_ROBIN, sayTimes } from '@cbsuite/testkit/echo.js';
import type { Case } from './core-cases.js';
import { median } from './harness.js';

interface SampleNode {
  selfSize: number;
  children: SampleNode[];
}

/**
 * Bytes allocated per call over `n` calls: V8's sampling heap profiler, one
 * sample per 256 bytes on average, keeping the samples of objects collected
 * since (the default keeps only what is still alive).
 */
async function bytesPerCall(session: Session, client: EchoClient, n: number): Promise<number> {
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: 256,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  } as never);
  await sayTimes(client, n);
  const { profile } = (await session.post('HeapProfiler.stopSampling')) as { profile: { head: SampleNode } };
  let total = 0;
  const walk = (node: SampleNode) => {
    total += node.selfSize;
    for (const c of node.children) walk(c);
  };
  walk(profile.head);
  return total / n;
}

export const allocCases: Record<string, Case> = {
  'instance/alloc': async (_o, smoke) => {
    pinToCpu(0);
    const server = await startServerProcess(3, 0, 1);
    const target = ipv4Target(server.ports.map((port) => ({ port })));
    const cbs = new CBSuite(undefined, { fromService: 'bench' });
    const rr = new EchoClient(target, grpc.credentials.createInsecure(), ROUND_ROBIN);
    const guarded = new EchoClient(target, grpc.credentials.createInsecure(), {
      ...cbs.channelOptions(),
      interceptors: [cbs.interceptor()],
    });
    const session = new Session();
    session.connect();
    try {
      const n = smoke ? 200 : 20_000;
      for (const c of [rr, guarded]) await sayTimes(c, smoke ? 200 : 30_000);
      const plain: number[] = [];
      const suite: number[] = [];
      for (let r = 0; r < (smoke ? 1 : 3); r++) {
        plain.push(await bytesPerCall(session, rr, n));
        suite.push(await bytesPerCall(session, guarded, n));
      }
      return {
        roundRobin: median(plain),
        cbsuite: median(suite),
        added: median(suite.map((v, i) => v - (plain[i] as number))),
      };
    } finally {
      session.disconnect();
      rr.close();
      guarded.close();
      await server.kill();
    }
  },
};

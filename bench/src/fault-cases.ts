// One of three instances faulted under load, with robustInstance(): killed
// (SIGKILL, then respawned on its port), hung (SIGSTOP, then SIGCONT),
// refusing (answering UNAVAILABLE) or 10× slow, then healed. What the caller
// saw: calls failed, how long until the faulted instance was skipped, and how
// long after healing until it answered calls again.
import { type CBEvent, CBSuite, robustInstance } from '@cbsuite/grpc-interceptor';
import { pinToCpu, type ServerProcess, startServerProcess } from '@cbsuite/testkit/child-server.js';
import { EchoClient, grpc, ipv4Target, say } from '@cbsuite/testkit/echo.js';
import type { Case } from './core-cases.js';

/** The servers' delay before each answer, and the slow one's (10×). */
const BASE_DELAY_MS = 5;
const IN_FLIGHT = 50;
const DEADLINE_MS = 500;

type Fault = 'kill' | 'hang' | 'refuse' | 'slow';

interface FaultRun {
  /** Calls that failed for the caller, from the fault to the end. */
  readonly failed: number;
  /** Calls made from the fault to the end. */
  readonly calls: number;
  /** Fault → the instance is skipped (its breaker OPEN, or ejected), ms. */
  readonly skipMs: number;
  /** Healed → the instance answers a call again, ms (Infinity: not within the run). */
  readonly backMs: number;
}

async function runFault(fault: Fault, smoke: boolean): Promise<FaultRun> {
  const faultAtMs = smoke ? 300 : 1000;
  const healAtMs = smoke ? 900 : 4000;
  const endMs = smoke ? 1500 : 9000;
  pinToCpu(0);
  const servers: ServerProcess[] = await Promise.all([0, 1, 2].map(() => startServerProcess(1, BASE_DELAY_MS, 1)));
  let victim = servers[1] as ServerProcess;
  const victimPort = victim.ports[0] as number;
  const addr = victim.addresses[0] as string;
  const cbs = new CBSuite(undefined, {
    ...robustInstance(),
    fromService: 'bench',
    idempotent: (ri) => ri.method === 'Say',
  });
  const client = new EchoClient(
    ipv4Target(servers.map((s) => ({ port: s.ports[0] as number }))),
    grpc.credentials.createInsecure(),
    {
      ...cbs.channelOptions(),
      interceptors: [cbs.interceptor()],
    },
  );
  let faultedAt = Number.POSITIVE_INFINITY;
  let skippedAt = Number.POSITIVE_INFINITY;
  let healedAt = Number.POSITIVE_INFINITY;
  let backAt = Number.POSITIVE_INFINITY;
  const skipped = (e: CBEvent) => {
    if (e.type === 'stateChange' && e.level === 'instance' && e.key === addr && e.toName === 'OPEN') return true;
    return e.type === 'ejection' && e.key === addr && e.ejected;
  };
  const onSkip = (e: CBEvent) => {
    if (skipped(e) && performance.now() >= faultedAt && skippedAt === Number.POSITIVE_INFINITY)
      skippedAt = performance.now();
  };
  cbs.onStateChange(onSkip);
  cbs.onEjection(onSkip);
  for (let i = 0; i < 300; i++) await say(client, 'warm-up');

  const start = performance.now();
  let calls = 0;
  let failed = 0;
  const load = Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (performance.now() - start < endMs) {
        const r = await say(client, 'load', { deadline: Date.now() + DEADLINE_MS });
        const now = performance.now();
        if (now < faultedAt) continue;
        calls++;
        if (r.error) failed++;
        else if (r.value?.instance === addr && now >= healedAt && backAt === Number.POSITIVE_INFINITY) backAt = now;
      }
    }),
  );
  const at = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, start + ms - performance.now())));
  await at(faultAtMs);
  faultedAt = performance.now();
  // A kill counts from the moment the process is gone (its exit reported here), as the tests do.
  let goneAt = faultedAt;
  if (fault === 'kill') {
    await victim.kill();
    goneAt = performance.now();
  } else if (fault === 'hang') victim.pause();
  else if (fault === 'refuse') await victim.behave({ failRate: 1, code: 'UNAVAILABLE', delayMs: BASE_DELAY_MS });
  else if (fault === 'slow') await victim.behave({ failRate: 0, code: 'INTERNAL', delayMs: 10 * BASE_DELAY_MS });
  await at(healAtMs);
  if (fault === 'kill') victim = await startServerProcess(1, BASE_DELAY_MS, 1, victimPort);
  else if (fault === 'hang') victim.resume();
  else await victim.behave({ failRate: 0, code: 'INTERNAL', delayMs: BASE_DELAY_MS });
  healedAt = performance.now();
  await load;
  client.close();
  cbs.close();
  await Promise.all([servers[0], victim, servers[2]].map((s) => s?.kill()));
  return { failed, calls, skipMs: Math.max(0, skippedAt - goneAt), backMs: backAt - healedAt };
}

export const faultCases: Record<string, Case> = {
  'instance/faults': async (_o, smoke) => {
    const out: Record<string, number> = {};
    for (const fault of ['kill', 'hang', 'refuse', 'slow'] as const) {
      const r = await runFault(fault, smoke);
      out[`${fault}Failed`] = r.failed;
      out[`${fault}FailedPct`] = (100 * r.failed) / Math.max(1, r.calls);
      out[`${fault}SkipMs`] = r.skipMs;
      out[`${fault}BackMs`] = r.backMs;
    }
    return out;
  },
};

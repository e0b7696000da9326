// Test helper: n real echo servers behind one client guarded by a suite
// whose instance breakers run on a manual clock.
import {
  EchoClient,
  type EchoServer,
  type EchoServerOptions,
  grpc,
  ipv4Target,
  say,
  startEchoServer,
} from '@cbsuite/testkit/echo.js';
import { ManualClock } from '@cbsuite/testkit/manual-clock.js';
import { CBSuite } from '../cb-suite.js';
import type { CBStateChangeEvent } from '../events.js';
import type { CBSuiteOptions } from '../suite-options.js';

export interface Cluster {
  readonly servers: EchoServer[];
  readonly cbs: CBSuite;
  readonly client: EchoClient;
  readonly clock: ManualClock;
  readonly events: CBStateChangeEvent[];
  /** Closes the client, the suite and the servers. */
  close(): Promise<void>;
}

/**
 * `n` healthy servers and a client over all of them, warmed up until each
 * has answered once; the servers' counts and the instance panel start empty.
 * The service breaker never trips unless `options` says so.
 */
export async function startCluster(
  options: CBSuiteOptions = {},
  n = 3,
  serverOptions: (i: number) => EchoServerOptions = () => ({}),
): Promise<Cluster> {
  const clock = new ManualClock();
  const servers = await Promise.all(
    Array.from({ length: n }, (_, i) => startEchoServer(undefined, 0, serverOptions(i))),
  );
  const cbs = new CBSuite(undefined, {
    defaultServiceCBConfig: { minSample: 100_000 },
    ...options,
    instanceBreaker: { now: clock.now, ...options.instanceBreaker },
  });
  const client = new EchoClient(ipv4Target(servers), grpc.credentials.createInsecure(), {
    ...cbs.channelOptions(),
    interceptors: [cbs.interceptor()],
  });
  const events: CBStateChangeEvent[] = [];
  for (let i = 0; i < 200 && servers.some((s) => s.total() === 0); i++) await say(client, 'warm-up');
  if (servers.some((s) => s.total() === 0)) throw new Error('a server never answered the warm-up');
  for (const s of servers) s.hits.Say = s.hits.Count = s.hits.Collect = s.hits.Chat = 0;
  for (const s of servers) cbs.instancePanel.reset(s.address);
  cbs.onStateChange((e) => events.push(e));
  const close = async () => {
    client.close();
    cbs.close();
    await Promise.all(servers.map((s) => s.close()));
  };
  return { servers, cbs, client, clock, events, close };
}

// One client process of a retry storm (storm-fleet.ts forks several).
// Usage, with an IPC channel:  storm-node.ts <target>
// Says `ready` once loaded. Told to connect, it makes a CBSuite and an Echo
// client over the target with the options given, and says `connected` once
// the channel is; told to go, it makes its calls, `inFlight` at a time,
// answers `done` with what its suite counted, and closes them. It leaves
// when its parent goes, and ignores Ctrl-C, which reaches the whole process
// group: its parent stops it.
import { CBSuite, type CBSuiteOptions } from '@cbsuite/grpc-interceptor';
import { EchoClient, grpc, say } from './echo.js';

/** The suite options a storm node takes: plain data, since they cross a process boundary. */
export type StormSuiteOptions = Pick<
  CBSuiteOptions,
  'defaultServiceCBConfig' | 'instanceCBConfig' | 'maxAttempts' | 'retryBudget' | 'retryStopErrRate'
>;

/** One storm, as each node makes it. */
export interface Storm {
  readonly suite: StormSuiteOptions;
  /** Logical calls (`Say`) the node makes. */
  readonly calls: number;
  /** Calls in flight at once. */
  readonly inFlight: number;
  /** How long a node may take to connect. Default 10_000. */
  readonly connectMs?: number;
}

/** What a node counted over its calls: the load's, and its suite's `stats().retry`. */
export interface StormResult {
  readonly calls: number;
  /** Calls that ended with an error (against a downstream that fails every call: all of them). */
  readonly failed: number;
  readonly retries: number;
  readonly budgetRefusals: number;
  readonly methodStops: number;
  /** From the first call to the last answer. */
  readonly ms: number;
}

/** What the parent tells a node: connect for a storm, then go. */
export type ToStorm = { readonly type: 'connect'; readonly storm: Storm } | { readonly type: 'go' };
export type FromStorm =
  | { readonly type: 'ready' }
  | { readonly type: 'connected' }
  | { readonly type: 'failed'; readonly message: string }
  | { readonly type: 'done'; readonly result: StormResult };

const target = process.argv[2] ?? '';
const send = (m: FromStorm) => {
  if (process.connected) process.send?.(m);
};
process.on('disconnect', () => process.exit(0));
process.on('SIGINT', () => undefined);

let current: { storm: Storm; cbs: CBSuite; client: EchoClient } | undefined;

function connect(storm: Storm): void {
  const cbs = new CBSuite(undefined, storm.suite);
  const client = new EchoClient(target, grpc.credentials.createInsecure(), {
    ...cbs.channelOptions(),
    interceptors: [cbs.interceptor()],
  });
  current = { storm, cbs, client };
  // Connected first, so that every call of the storm reaches a server.
  client.waitForReady(Date.now() + (storm.connectMs ?? 10_000), (err) =>
    send(err ? { type: 'failed', message: `not connected to ${target}: ${err.message}` } : { type: 'connected' }),
  );
}

async function go(): Promise<void> {
  if (current === undefined) return send({ type: 'failed', message: 'told to go before it was told to connect' });
  const { storm, cbs, client } = current;
  current = undefined;
  let next = 0;
  let failed = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: storm.inFlight }, async () => {
      while (next++ < storm.calls) if ((await say(client, 'storm')).error) failed++;
    }),
  );
  const ms = performance.now() - started;
  const { retries, budgetRefusals, methodStops } = cbs.stats().retry;
  client.close();
  cbs.close();
  send({ type: 'done', result: { calls: storm.calls, failed, retries, budgetRefusals, methodStops, ms } });
}

process.on('message', (m: ToStorm) => {
  if (m.type === 'connect') connect(m.storm);
  else void go();
});

send({ type: 'ready' });

import {
  EchoClient,
  type EchoServer,
  EchoService,
  grpc,
  ipv4Target,
  type SayReply,
  type SayRequest,
  say,
  startEchoServer,
} from '@cbsuite/testkit/echo.js';
import { freePort } from '@cbsuite/testkit/ports.js';
import { afterEach, describe, expect, it } from 'vitest';
import { CBSuite } from './cb-suite.js';
import type { CBRetryEvent } from './events.js';
import type { CBSuiteOptions } from './suite-options.js';

// The retry rule and the instance classifier decide from what the transport
// observed, never from a status's text: a server can send any text.

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function suiteClient(target: string, options: CBSuiteOptions) {
  const cbs = new CBSuite(undefined, { defaultServiceCBConfig: { minSample: 100_000 }, ...options });
  const client = new EchoClient(target, grpc.credentials.createInsecure(), {
    ...cbs.channelOptions(),
    interceptors: [cbs.interceptor()],
  });
  const retries: CBRetryEvent[] = [];
  cbs.onRetry((e) => retries.push(e));
  cleanups.push(
    () => client.close(),
    () => cbs.close(),
  );
  return { cbs, client, retries };
}

/** Two servers that both answer Say with `answer`, and a suite's client over both. */
async function twoServers(answer: { code: grpc.status; details: string; headers?: boolean }, idempotent: boolean) {
  const servers = await Promise.all([startEchoServer(), startEchoServer()]);
  cleanups.push(() => Promise.all(servers.map((s) => s.close())));
  const s = suiteClient(ipv4Target(servers), { idempotent: () => idempotent });
  for (let i = 0; i < 20 && servers.some((x) => x.total() === 0); i++) await say(s.client, 'warm-up');
  for (const x of servers) x.hits.Say = 0;
  for (const x of servers) x.setBehavior(() => answer);
  return { ...s, servers };
}

const instanceFailures = (cbs: CBSuite, servers: EchoServer[]) =>
  servers.reduce((n, s) => n + (cbs.instancePanel.breaker(s.address)?.metricer().failures() ?? 0), 0);

describe('statuses a server sent, whatever their text', () => {
  it.each([
    ['Stream refused by server', false, false],
    ['Stream refused by server', false, true],
    ['Connection dropped', true, false],
    ['Connection dropped', true, true],
    ['db: connect ECONNREFUSED 127.0.0.1:5432', true, false],
    ['read ECONNRESET', true, true],
    ['Received HTTP status code 503', true, false],
  ])(
    'UNAVAILABLE "%s" (idempotent: %s, after headers: %s) runs once, is not retried, does not fail the instance',
    async (details, idempotent, headers) => {
      const { cbs, client, servers, retries } = await twoServers(
        { code: grpc.status.UNAVAILABLE, details, headers },
        idempotent,
      );
      const r = await say(client, 'x');
      expect(r.error?.code).toBe(grpc.status.UNAVAILABLE);
      expect(r.error?.details).toBe(details);
      expect(servers[0]!.hits.Say + servers[1]!.hits.Say).toBe(1);
      expect(cbs.stats().retry.retries).toBe(0);
      expect(cbs.stats().instance.retries).toBe(0);
      expect(retries).toEqual([]);
      expect(instanceFailures(cbs, servers)).toBe(0);
    },
  );
});

/** A server whose Say handler never answers, and tells when a call reached it. */
async function hangingServer() {
  const server = new grpc.Server();
  const waiters: (() => void)[] = [];
  let calls = 0;
  server.addService(EchoService, {
    Say: (_call: grpc.ServerUnaryCall<SayRequest, SayReply>, _cb: grpc.sendUnaryData<SayReply>) => {
      calls++;
      for (const w of waiters.splice(0)) w();
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  cleanups.push(() => server.forceShutdown());
  return {
    port,
    address: `127.0.0.1:${port}`,
    calls: () => calls,
    reached: () => new Promise<void>((resolve) => waiters.push(resolve)),
    kill: () => server.forceShutdown(),
  };
}

describe("a server's forced shutdown under a call (not the caller's cancel)", () => {
  async function callAndKill(idempotent: boolean) {
    const hanging = await hangingServer();
    const healthy = await startEchoServer();
    cleanups.push(() => healthy.close());
    const s = suiteClient(ipv4Target([hanging, healthy]), { idempotent: () => idempotent });
    for (let i = 0; i < 10; i++) {
      const before = hanging.calls();
      const reached = hanging.reached();
      const done = say(s.client, 'x');
      const first = await Promise.race([reached.then(() => 'reached' as const), done.then(() => 'done' as const)]);
      if (first === 'reached') {
        expect(hanging.calls()).toBe(before + 1);
        hanging.kill();
        return { ...s, hanging, healthy, result: await done };
      }
    }
    throw new Error('no call reached the hanging server in 10 calls');
  }

  it('retries an idempotent call on another instance, and counts the failure against the instance', async () => {
    const { cbs, hanging, healthy, result, retries } = await callAndKill(true);
    expect(result.error).toBeUndefined();
    expect(result.value).toEqual({ text: 'x', instance: healthy.address });
    expect(cbs.stats().retry.retries).toBe(1);
    expect(retries).toMatchObject([{ outcome: 'retried', attempt: 1, delayMs: 0 }]);
    // The attempt, and each failed reconnection to the dead instance since.
    const failures = cbs.instancePanel.breaker(hanging.address)?.metricer().failures();
    expect(failures).toBe(1 + cbs.stats().instance.connectFailures);
  });

  it('fails a call that is not idempotent, without retrying it, and counts it as a failure at both levels', async () => {
    const { cbs, client, hanging, result } = await callAndKill(false);
    expect(result.error?.code).toBe(grpc.status.CANCELLED);
    expect(result.error?.details).toBe('Call cancelled');
    expect(hanging.calls()).toBe(1);
    expect(cbs.stats().retry.retries).toBe(0);
    const failures = cbs.instancePanel.breaker(hanging.address)?.metricer().failures();
    expect(failures).toBe(1 + cbs.stats().instance.connectFailures);
    expect(cbs.servicePanel.getMetricer(cbs.serviceKey('/echo.v1.Echo/Say')).failures()).toBe(1);
    client.close();
  });
});

describe("the caller's own cancel", () => {
  it('is neither retried nor counted, even for an idempotent method', async () => {
    const hanging = await hangingServer();
    const { cbs, client, retries } = suiteClient(ipv4Target([hanging]), { idempotent: () => true });
    const reached = hanging.reached();
    const error = await new Promise<grpc.ServiceError>((resolve) => {
      const call = client.Say({ text: 'x' }, (err) => resolve(err as grpc.ServiceError));
      void reached.then(() => call.cancel());
    });
    expect(error.code).toBe(grpc.status.CANCELLED);
    expect(hanging.calls()).toBe(1);
    expect(retries).toEqual([]);
    expect(cbs.instancePanel.breaker(hanging.address)?.metricer().samples()).toBe(0);
    expect(cbs.servicePanel.getMetricer(cbs.serviceKey('/echo.v1.Echo/Say')).samples()).toBe(0);
  });
});

describe('a call made while the channel connects', () => {
  it('is tracked once the channel is ready: an UNAVAILABLE the server sent runs once, not retried', async () => {
    const servers = await Promise.all([startEchoServer(), startEchoServer()]);
    cleanups.push(() => Promise.all(servers.map((s) => s.close())));
    for (const x of servers) x.setBehavior(() => ({ code: grpc.status.UNAVAILABLE, details: 'busy' }));
    // No warm-up: the call waits for the channel to connect.
    const { cbs, client, retries } = suiteClient(ipv4Target(servers), { idempotent: () => false });
    const r = await say(client, 'x');
    expect(r.error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(servers[0]!.hits.Say + servers[1]!.hits.Say).toBe(1);
    expect(cbs.stats().instance.retries).toBe(0);
    expect(retries).toEqual([]);
  });
});

describe("the caller's metadata", () => {
  it('is left as it was, and one metadata shared by calls in flight together tags each with its own call', async () => {
    const servers = await Promise.all([startEchoServer(), startEchoServer()]);
    cleanups.push(() => Promise.all(servers.map((s) => s.close())));
    const { cbs, client } = suiteClient(ipv4Target(servers), {});
    const options = { waitForReady: true };
    const md = new grpc.Metadata(options);
    md.set('x-mine', 'kept');
    const call = () =>
      new Promise<SayReply>((resolve, reject) =>
        client.Say({ text: 'x' }, md, {}, (err, reply) => (err ? reject(err) : resolve(reply as SayReply))),
      );
    // Each call is tracked: a call the picker saw without its tag would make the suite refuse every later call.
    await Promise.all(Array.from({ length: 10 }, call));
    await call();
    expect(md.getOptions()).toBe(options);
    expect(md.getMap()).toEqual({ 'x-mine': 'kept' });
    expect(servers[0]!.hits.Say + servers[1]!.hits.Say).toBe(11);
    expect(cbs.stats().service.faults).toBe(0);
  });

  it("keeps the caller's waitForReady: such a call waits for an instance while a call without it fails at once", async () => {
    const port = await freePort();
    const { client } = suiteClient(`ipv4:127.0.0.1:${port}`, {});
    const sayWith = (md: grpc.Metadata) =>
      new Promise<grpc.ServiceError | null>((resolve) =>
        client.Say({ text: 'x' }, md, { deadline: Date.now() + 10_000 }, (err) => resolve(err)),
      );
    let waited: grpc.ServiceError | null | undefined;
    const waiting = sayWith(new grpc.Metadata({ waitForReady: true })).then((err) => {
      waited = err;
    });
    const failFast = await sayWith(new grpc.Metadata());
    expect(failFast?.code).toBe(grpc.status.UNAVAILABLE);
    expect(waited).toBeUndefined();
    const server = await startEchoServer(undefined, port);
    cleanups.push(() => server.close());
    await waiting;
    expect(waited).toBeNull();
    expect(server.hits.Say).toBe(1);
  });
});

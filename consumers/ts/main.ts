// A TypeScript user of the packed packages, built three ways (see
// ../README.md): the types of every entry point, and one call through both
// levels against a real grpc-js server.
import assert from 'node:assert/strict';
import { Breaker, isCircuitBreakerError, Panel, type SignalledExecutable } from '@cbsuite/core';
import {
  type CBConfigInput,
  CBSuite,
  circuitBreakLevel,
  isCircuitBreakError,
  isUnsupportedGrpcError,
  type KitexCBConfig,
  parseCBConfig,
} from '@cbsuite/grpc-interceptor';
import { CBSuiteOtelMetrics, type CBSuiteOtelMetricsOptions, traceSuite } from '@cbsuite/grpc-interceptor/otel';
import { CBSuiteMetrics, isMissingPeerError } from '@cbsuite/grpc-interceptor/prometheus';
import { RedisSync, type RedisSyncOptions } from '@cbsuite/redis-sync';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { Registry } from 'prom-client';

interface SayReply {
  text: string;
  instance: string;
}
interface EchoClient extends grpc.Client {
  Say(req: { text: string }, cb: (err: grpc.ServiceError | null, reply?: SayReply) => void): grpc.ClientUnaryCall;
}
interface EchoPackage {
  Echo: grpc.ServiceClientConstructor;
}

const loaded = grpc.loadPackageDefinition(protoLoader.loadSync('echo.proto')) as unknown as {
  echo: { v1: EchoPackage };
};
const Echo = loaded.echo.v1.Echo;

function startServer(): Promise<{ server: grpc.Server; address: string }> {
  const server = new grpc.Server();
  return new Promise((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
      if (err) return reject(err);
      const address = `127.0.0.1:${port}`;
      server.addService(Echo.service, {
        Say: (call: grpc.ServerUnaryCall<{ text: string }, SayReply>, callback: grpc.sendUnaryData<SayReply>) =>
          callback(null, { text: call.request.text, instance: address }),
      });
      resolve({ server, address });
    }),
  );
}

const say = (client: EchoClient, text: string) =>
  new Promise<{ reply?: SayReply; error?: grpc.ServiceError }>((resolve) =>
    client.Say({ text }, (error, reply) => resolve(error ? { error } : { reply })),
  );

async function main(): Promise<void> {
  const makeSync = (o: RedisSyncOptions): RedisSync => new RedisSync(o);
  assert.equal(typeof makeSync, 'function');
  const kitex: KitexCBConfig = { enable: true, err_rate: 0.3, min_sample: 10 };
  const input: CBConfigInput = { errRate: 0.2, min_sample: 5 };
  assert.deepEqual(parseCBConfig(kitex), { enable: true, errRate: 0.3, minSample: 10 });
  assert.deepEqual(parseCBConfig(input), { enable: true, errRate: 0.2, minSample: 5 });
  assert.equal(isUnsupportedGrpcError(new Error('x')), false);

  // The signal is an AbortSignal whenever the options set timeoutMs or signal.
  const fn: SignalledExecutable<boolean> = async (signal: AbortSignal) => !signal.aborted;
  assert.equal(await new Breaker().execute(fn, { timeoutMs: 1000 }), true);
  assert.equal(
    await new Panel().execute('k', async (signal: AbortSignal) => signal.aborted, { timeoutMs: 1000 }),
    false,
  );
  const open = new Breaker();
  open.setMode('forcedOpen');
  await assert.rejects(
    open.execute(() => 1),
    (err: unknown) => isCircuitBreakerError(err),
  );

  const servers = [await startServer(), await startServer()];
  const cbs = new CBSuite(undefined, { fromService: 'consumer', instanceCBConfig: { min_sample: 100 } });
  const registry = new Registry();
  new CBSuiteMetrics({ registry }).add(cbs, 'consumer');
  const otelOptions: CBSuiteOtelMetricsOptions = { prefix: 'cbsuite.' };
  new CBSuiteOtelMetrics(otelOptions).add(cbs, 'consumer');
  const stopTracing: () => void = traceSuite(cbs);
  assert.equal(isMissingPeerError(new Error('x')), false);
  const target = `ipv4:${servers.map((s) => s.address).join(',')}`;
  const client = new Echo(target, grpc.credentials.createInsecure(), {
    ...cbs.channelOptions(),
    interceptors: [cbs.interceptor()],
  }) as unknown as EchoClient;
  const key = 'consumer/echo.v1.Echo/Say';
  try {
    const { reply, error } = await say(client, 'hello');
    assert.equal(error, undefined);
    assert.equal(reply?.text, 'hello');
    assert.equal(cbs.servicePanel.getMetricer(key).successes(), 1);
    assert.equal(cbs.instancePanel.getMetricer(reply?.instance ?? '').successes(), 1);
    assert.equal(cbs.stats().instance.attempts, 1);
    assert.match(await registry.metrics(), /cbsuite_calls_total\{.*level="instance".*\} 1/);

    for (const s of servers) cbs.instancePanel.setMode(s.address, 'forcedOpen');
    const instance = await say(client, 'x');
    assert.equal(isCircuitBreakError(instance.error), true);
    assert.equal(circuitBreakLevel(instance.error), 'instance');

    for (const s of servers) cbs.instancePanel.setMode(s.address, 'normal');
    cbs.servicePanel.setMode(key, 'forcedOpen');
    const service = await say(client, 'x');
    assert.equal(circuitBreakLevel(service.error), 'service');
    assert.match(
      await registry.metrics(),
      /cbsuite_service_rejections_total\{suite="consumer",key="consumer\/echo.v1.Echo\/Say"\} 1/,
    );
    stopTracing();
  } finally {
    client.close();
    cbs.close();
    for (const s of servers) s.server.forceShutdown();
  }
  console.log(`${process.argv[2] ?? 'ts'}: ok`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

// An ESM user of the packed packages: every entry point through import, and
// one call through both levels against a real grpc-js server.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { Breaker, isCircuitBreakerError } from '@cbsuite/core';
import {
  CBSuite,
  circuitBreakLevel,
  isCircuitBreakError,
  MIN_GRPC_JS_VERSION,
  parseCBConfig,
} from '@cbsuite/grpc-interceptor';
import { CBSuiteOtelMetrics, traceSuite } from '@cbsuite/grpc-interceptor/otel';
import { CBSuiteMetrics } from '@cbsuite/grpc-interceptor/prometheus';
import { cbsuiteMiddleware, isCircuitBreakError as isNiceCircuitBreakError } from '@cbsuite/nice-grpc';
import { RedisSync } from '@cbsuite/redis-sync';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { createChannel, createClientFactory } from 'nice-grpc';
import { Registry } from 'prom-client';

const echo = grpc.loadPackageDefinition(protoLoader.loadSync('echo.proto')).echo.v1;

function startServer() {
  const server = new grpc.Server();
  return new Promise((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
      if (err) return reject(err);
      const address = `127.0.0.1:${port}`;
      server.addService(echo.Echo.service, {
        Say: (call, callback) => callback(null, { text: call.request.text, instance: address }),
      });
      resolve({ server, address });
    }),
  );
}

const say = (client, text) =>
  new Promise((resolve) => client.Say({ text }, (error, reply) => resolve(error ? { error } : { reply })));

async function main() {
  assert.equal(typeof RedisSync, 'function');
  assert.equal(MIN_GRPC_JS_VERSION, '1.10.0');
  assert.deepEqual(parseCBConfig({ err_rate: 0.3, min_sample: 10 }), { enable: true, errRate: 0.3, minSample: 10 });
  const b = new Breaker();
  assert.equal(await b.execute((signal) => signal instanceof AbortSignal, { timeoutMs: 1000 }), true);
  b.setMode('forcedOpen');
  await assert.rejects(
    b.execute(() => 1),
    (err) => isCircuitBreakerError(err),
  );

  const servers = [await startServer(), await startServer()];
  const cbs = new CBSuite(undefined, { fromService: 'consumer' });
  const registry = new Registry();
  new CBSuiteMetrics({ registry }).add(cbs, 'consumer');
  new CBSuiteOtelMetrics().add(cbs, 'consumer');
  const stopTracing = traceSuite(cbs);
  const client = new echo.Echo(`ipv4:${servers.map((s) => s.address).join(',')}`, grpc.credentials.createInsecure(), {
    ...cbs.channelOptions(),
    interceptors: [cbs.interceptor()],
  });
  const key = 'consumer/echo.v1.Echo/Say';
  try {
    const { reply, error } = await say(client, 'hello');
    assert.equal(error, undefined);
    assert.equal(reply.text, 'hello');
    assert.equal(cbs.servicePanel.getMetricer(key).successes(), 1);
    assert.equal(cbs.instancePanel.getMetricer(reply.instance).successes(), 1);
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

    // nice-grpc: the same suite's service level as a middleware, the instance level in the channel.
    cbs.servicePanel.setMode(key, 'normal');
    const channel = createChannel(servers[0].address, grpc.credentials.createInsecure(), cbs.channelOptions());
    const nice = createClientFactory().use(cbsuiteMiddleware(cbs)).create(echo.Echo.service, channel);
    try {
      assert.equal((await nice.Say({ text: 'nice' })).text, 'nice');
      cbs.servicePanel.setMode(key, 'forcedOpen');
      await assert.rejects(nice.Say({ text: 'x' }), (err) => isNiceCircuitBreakError(err));
    } finally {
      channel.close();
    }
  } finally {
    client.close();
    cbs.close();
    for (const s of servers) s.server.forceShutdown();
  }
  const version = createRequire(import.meta.url)('@grpc/grpc-js/package.json').version;
  console.log(`esm: ok (@grpc/grpc-js ${version})`);
}

await main();

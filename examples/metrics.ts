// Prometheus metrics of a CBSuite, served on /metrics: breaker states,
// recorded outcomes, transitions, rejections and call durations, per level
// and key.
//
// Run from the repository root: npx tsx examples/metrics.ts
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CBSuite } from '@cbsuite/grpc-interceptor';
import { CBSuiteMetrics } from '@cbsuite/grpc-interceptor/prometheus';
import { EchoClient, say, startEchoServer } from '@cbsuite/testkit/echo.js';
import * as grpc from '@grpc/grpc-js';
import { Registry } from 'prom-client';

const server = await startEchoServer();
const cbs = new CBSuite(undefined, { fromService: 'checkout', defaultServiceCBConfig: { minSample: 6 } });
const client = new EchoClient(server.address, grpc.credentials.createInsecure(), {
  interceptors: [cbs.interceptor()],
});

// The metrics read the suite when scraped; `suite` labels every series.
const registry = new Registry();
new CBSuiteMetrics({ registry }).add(cbs, 'checkout-client');
const metricsServer = createServer(async (req, res) => {
  if (req.url !== '/metrics') {
    res.statusCode = 404;
    res.end();
    return;
  }
  res.setHeader('Content-Type', registry.contentType);
  res.end(await registry.metrics());
});
metricsServer.listen(0, '127.0.0.1');
await once(metricsServer, 'listening');

console.log('3 calls succeed; then the server fails: 3 failures trip the breaker (minSample 6), 2 calls are rejected.');
for (let i = 0; i < 3; i++) await say(client, 'ok');
server.setBehavior(() => ({ code: grpc.status.UNAVAILABLE, details: 'down' }));
for (let i = 0; i < 5; i++) await say(client, 'fails');

// What Prometheus would scrape.
const res = await fetch(`http://127.0.0.1:${(metricsServer.address() as AddressInfo).port}/metrics`);
const text = await res.text();
console.log(`GET /metrics: ${res.status}. Its non-zero series of state, calls, transitions, rejections and durations:`);
const wanted =
  /^cbsuite_(breaker_state|calls_total|service_rejections_total|transitions_total|call_duration_seconds_count)\{/;
for (const line of text.split('\n')) {
  if (wanted.test(line) && !line.endsWith(' 0')) console.log(`  ${line}`);
}

// A real service keeps the metrics server running for as long as it runs.
metricsServer.close();
client.close();
cbs.close();
await server.close();

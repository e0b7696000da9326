// A service-level breaker with a custom key. The server fails every call; after
// minSample failures the breaker opens, and the calls that follow are rejected
// by the client without reaching the server.
//
// Run from the repository root: npx tsx examples/service-breaker.ts
import { once } from 'node:events';
import { CBSuite, circuitBreakKey, isCircuitBreakError } from '@cbsuite/grpc-interceptor';
import { EchoClient, say, startEchoServer } from '@cbsuite/testkit/echo.js';
import * as grpc from '@grpc/grpc-js';

const server = await startEchoServer(() => ({ code: grpc.status.UNAVAILABLE, details: 'database down' }));

// The default key is from/to/method (Kitex's). Keyed by the called service
// alone, every method of echo.v1.Echo shares one breaker.
const cbs = new CBSuite((ri) => ri.to, { defaultServiceCBConfig: { errRate: 0.5, minSample: 5 } });
cbs.onStateChange((e) =>
  console.log(`  breaker ${e.key}: ${e.fromName} -> ${e.toName}, ${e.counts.failures} failures`),
);
const client = new EchoClient(server.address, grpc.credentials.createInsecure(), { interceptors: [cbs.interceptor()] });

console.log(`Say is guarded by the breaker "${cbs.serviceKey('/echo.v1.Echo/Say')}" (minSample 5, errRate 0.5).`);
for (let i = 1; i <= 8; i++) {
  const { error } = await say(client, `call ${i}`);
  if (isCircuitBreakError(error)) {
    console.log(`call ${i}: rejected by the breaker "${circuitBreakKey(error)}", not sent: ${error?.details}`);
  } else if (error) {
    console.log(`call ${i}: the server answered ${grpc.status[error.code]}: ${error.details}`);
  }
}

// Count is another method of the same service, so the same (open) breaker guards it.
const [countError] = await once(client.Count({ text: 'x', count: 3 }), 'error');
console.log(`Count, another method of echo.v1.Echo, is rejected too: ${isCircuitBreakError(countError)}`);
console.log(`The server saw ${server.hits.Say} calls: the rejected ones never reached it.`);

client.close();
cbs.close();
await server.close();

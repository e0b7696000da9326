// Changing breaker configs while the client runs: each update applies to the
// calls that follow and keeps the statistics already gathered; a bad config is
// refused and the one in force stays.
//
// Run from the repository root: npx tsx examples/runtime-config.ts
import { CBSuite, isCBConfigError, isCircuitBreakError } from '@cbsuite/grpc-interceptor';
import { EchoClient, say, startEchoServer } from '@cbsuite/testkit/echo.js';
import * as grpc from '@grpc/grpc-js';

const server = await startEchoServer(() => ({ code: grpc.status.INTERNAL, details: 'bug in the handler' }));
const cbs = new CBSuite(undefined, { fromService: 'checkout' });
cbs.onStateChange((e) => console.log(`  breaker: ${e.fromName} -> ${e.toName}`));
// Every config in force that changes, here or (with a fleet sync) published by another replica.
cbs.onConfigChange((e) => {
  const fields = (['enable', 'errRate', 'minSample'] as const).filter((f) => e.from[f] !== e.to[f]);
  const change = fields.map((f) => `${f} ${e.from[f]} -> ${e.to[f]}`).join(', ');
  console.log(`  config of ${e.key ?? `the ${e.level} default`}: ${change} (${e.source})`);
});
const client = new EchoClient(server.address, grpc.credentials.createInsecure(), {
  interceptors: [cbs.interceptor()],
});
const key = cbs.serviceKey('/echo.v1.Echo/Say');
const show = (cfg: object) => JSON.stringify(cfg);

async function calls(n: number): Promise<void> {
  const outcomes = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const { error } = await say(client, 'x');
    const outcome = isCircuitBreakError(error) ? 'rejected' : error ? 'failed at the server' : 'succeeded';
    outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  }
  const parts = [...outcomes].map(([outcome, count]) => `${count} ${outcome}`);
  const failures = cbs.servicePanel.getMetricer(key).failures();
  console.log(`  ${n} calls: ${parts.join(', ')}; the window holds ${failures} failures`);
}

console.log(`${key} starts with Kitex's default config ${show(cbs.serviceCBConfig(key))}`);
await calls(5);
console.log('  5 calls are far below minSample 200: the breaker stays CLOSED');

console.log('updateServiceCBConfig(key, { minSample: 6 }): the 5 failures already counted still count');
cbs.updateServiceCBConfig(key, { minSample: 6 });
await calls(3);

console.log('updateServiceCBConfig(key, { enable: false }): calls bypass the breaker, unchecked and uncounted');
cbs.updateServiceCBConfig(key, { enable: false });
await calls(2);

console.log('updateServiceCBConfig(key, { errRate: 1.5 }): refused');
try {
  cbs.updateServiceCBConfig(key, { errRate: 1.5 });
} catch (err) {
  if (!isCBConfigError(err)) throw err;
  console.log(`  ${err.name}: field ${err.field}, value ${err.value} (${err.message})`);
}
console.log(`  the config in force is unchanged: ${show(cbs.serviceCBConfig(key))}`);

console.log('updateServiceCBConfig(key, { enable: true }): the breaker is back, still OPEN');
cbs.updateServiceCBConfig(key, { enable: true });
await calls(2);

// Keys with no config of their own follow the default (Kitex has no way to change it).
cbs.updateDefaultServiceCBConfig({ errRate: 0.3, minSample: 50 });
const countKey = cbs.serviceKey('/echo.v1.Echo/Count');
console.log(`updateDefaultServiceCBConfig: ${countKey} now gets ${show(cbs.serviceCBConfig(countKey))}`);

console.log('cbs.dump():');
console.log(JSON.stringify(cbs.dump(), null, 2));

client.close();
cbs.close();
await server.close();

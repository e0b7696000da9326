// Instance-level breakers: one breaker per backend address, consulted when the
// load balancer picks. A failing instance trips its breaker and stops getting
// calls while the healthy ones take them all; with every instance tripped,
// calls fail fast on the client.
//
// Run from the repository root: npx tsx examples/instance-failover.ts
import { CBSuite, circuitBreakLevel, State } from '@cbsuite/grpc-interceptor';
import { EchoClient, type EchoServer, say, startEchoServer } from '@cbsuite/testkit/echo.js';
import * as grpc from '@grpc/grpc-js';

const unavailable = () => ({ code: grpc.status.UNAVAILABLE, details: 'overloaded' });
const servers = await Promise.all([1, 2, 3].map(() => startEchoServer()));
const [a, b, c] = servers as [EchoServer, EchoServer, EchoServer];

const startedAt = Date.now();
const cbs = new CBSuite(undefined, {
  // By default (as in Kitex) only connection errors count against an instance;
  // this counts an instance answering UNAVAILABLE too.
  instanceFailureCodes: ['UNAVAILABLE'],
  instanceCBConfig: { errRate: 0.5, minSample: 5 },
  // The breakers' clock stands still here, so no breaker cools down while the example runs.
  instanceBreaker: { now: () => startedAt },
});
// Only b's transitions are printed: a and c open below in an order round_robin decides.
cbs.onStateChange((e) => {
  if (e.key !== b.address) return;
  console.log(`  instance b: ${e.fromName} -> ${e.toName} after ${e.counts.failures} failures`);
});
const client = new EchoClient(`ipv4:${servers.map((s) => s.address).join(',')}`, grpc.credentials.createInsecure(), {
  ...cbs.channelOptions(), // the instance breaker, over round_robin
  interceptors: [cbs.interceptor()], // the service breaker
});
const isOpen = (s: EchoServer) => cbs.instancePanel.breaker(s.address)?.state() === State.Open;

// round_robin starts with the first instance that connects: call until all three have answered.
while (servers.some((s) => s.hits.Say === 0)) await say(client, 'warm-up');
for (const s of servers) {
  s.hits.Say = 0;
  cbs.instancePanel.reset(s.address); // empty windows, so that the counts below are exact
}

console.log('Instance b answers UNAVAILABLE from now on. 60 calls:');
b.setBehavior(unavailable);
let failed = 0;
for (let i = 0; i < 60; i++) if ((await say(client, `call ${i}`)).error) failed++;
console.log(
  `  b got ${b.hits.Say} calls (all failed), a and c got ${a.hits.Say + c.hits.Say}; the caller saw ${failed} failures`,
);
console.log(`  instance breakers open: ${servers.filter(isOpen).length} of 3`);

console.log('Now a and c fail too. Calling until their breakers open as well:');
a.setBehavior(unavailable);
c.setBehavior(unavailable);
for (let i = 0; i < 500 && !servers.every(isOpen); i++) await say(client, 'x');
console.log(`  instance breakers open: ${servers.filter(isOpen).length} of 3`);

const hits = a.hits.Say + b.hits.Say + c.hits.Say;
const { error } = await say(client, 'one more');
console.log(`One more call fails fast: ${error?.details} (level: ${circuitBreakLevel(error)})`);
console.log(`  servers reached by it: ${a.hits.Say + b.hits.Say + c.hits.Say - hits}`);

client.close();
cbs.close();
await Promise.all(servers.map((s) => s.close()));

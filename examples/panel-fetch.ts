// @cbsuite/core without gRPC: a Panel (one breaker per key) guarding fetch
// calls to an HTTP server that starts failing, then recovers.
//
// Run from the repository root: npx tsx examples/panel-fetch.ts
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isCircuitBreakerError, Panel, rateTripFunc, State, stateName } from '@cbsuite/core';

let status = 200;
let hits = 0;
const server = createServer((_req, res) => {
  hits++;
  res.statusCode = status;
  res.end(status === 200 ? 'in stock' : 'database down');
});
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/inventory`;

// The breakers read time from `now`: the example moves this clock by hand instead of waiting.
let clock = Date.now();
// One breaker per key, made on first use. Each trips at a 50 % error rate over at least 6 calls.
const panel = new Panel(
  { shouldTrip: rateTripFunc(0.5, 6), coolingTimeoutMs: 5_000, now: () => clock },
  (key, from, to, m) => {
    const why = to === State.Open ? ` (${m.failures()} of ${m.samples()} calls failed)` : '';
    console.log(`  ${key}: ${stateName(from)} -> ${stateName(to)}${why}`);
  },
);

let calls = 0;
async function getInventory(): Promise<void> {
  const call = `call ${++calls}`;
  try {
    const body = await panel.execute(
      'GET /inventory',
      async (signal) => {
        const res = await fetch(url, { signal });
        const text = await res.text();
        // fetch resolves on any HTTP status: throwing is what makes a 5xx count as a failure.
        if (res.status >= 500) throw new Error(`HTTP ${res.status}: ${text}`);
        return text;
      },
      { timeoutMs: 5_000 },
    );
    console.log(`${call}: ${body}`);
  } catch (err) {
    if (isCircuitBreakerError(err)) console.log(`${call}: not sent, ${err.name}: ${err.message}`);
    else console.log(`${call}: failed, ${(err as Error).message}`);
  }
}

for (let i = 0; i < 3; i++) await getInventory();
console.log('The server starts answering 503.');
status = 503;
for (let i = 0; i < 5; i++) await getInventory();
console.log(`The server saw ${hits} of the ${calls} calls.`);

console.log('The server recovers. 5 s later (coolingTimeoutMs), the breaker lets one probe through:');
status = 200;
clock += 5_000;
await getInventory();
await getInventory();
console.log('200 ms later (detectTimeoutMs), a second probe; 2 successes (halfOpenSuccesses) close the breaker:');
clock += 200;
await getInventory();
await getInventory();

panel.close();
server.close();

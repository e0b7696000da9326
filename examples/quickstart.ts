// cbsuite in one file: two Echo servers whose database is down, a gRPC client
// guarded by a CBSuite, and calls until the service breaker opens.
// Run it from the repository root, after pnpm install: npx tsx examples/quickstart.ts
import { fileURLToPath } from 'node:url';
import { CBSuite, circuitBreakKey, isCircuitBreakError, robustInstance } from '@cbsuite/grpc-interceptor';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const proto = fileURLToPath(new URL('../proto/echo.proto', import.meta.url));
// biome-ignore lint/suspicious/noExplicitAny: loadPackageDefinition is untyped
const echo = (grpc.loadPackageDefinition(protoLoader.loadSync(proto)) as any).echo.v1;

// Two servers on free ports that fail every call, as a service whose database is down would.
let hits = 0;
const servers = await Promise.all(
  [1, 2].map(async () => {
    const server = new grpc.Server();
    server.addService(echo.Echo.service, {
      Say: (_call: unknown, callback: grpc.sendUnaryData<unknown>) => {
        hits++;
        callback({ code: grpc.status.UNAVAILABLE, details: 'database down' });
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );
    return { server, address: `127.0.0.1:${port}` };
  }),
);

// robustInstance(): a hung, refusing or slow instance is skipped; with too few left, calls spread over all of them.
const cbs = new CBSuite(undefined, { ...robustInstance(), fromService: 'checkout' });
cbs.updateServiceCBConfig('checkout/echo.v1.Echo/Say', { errRate: 0.5, minSample: 10 });
cbs.onStateChange((e) =>
  console.log(
    `  the ${e.level} breaker ${e.level === 'service' ? e.key : 'of an instance'} went ${e.fromName} -> ${e.toName}: ${e.counts.failures} of ${e.counts.samples} calls failed`,
  ),
);
cbs.onPanic((e) =>
  console.log(
    e.entered
      ? `  panic: ${e.available} of ${e.total} instances allow calls, so calls go to all of them`
      : '  panic over',
  ),
);
const client = new echo.Echo(`ipv4:${servers.map((s) => s.address).join(',')}`, grpc.credentials.createInsecure(), {
  ...cbs.channelOptions(), // instance level: skips tripped instances, retries safely on another
  interceptors: [cbs.interceptor()], // service level: keyed checkout/echo.v1.Echo/Say
});
const say = (text: string) =>
  new Promise<grpc.ServiceError | null>((resolve) =>
    client.Say({ text }, (err: grpc.ServiceError | null) => resolve(err)),
  );

for (let i = 1; i <= 100; i++) {
  const err = await say(`call ${i}`);
  if (isCircuitBreakError(err)) {
    console.log(`call ${i}: rejected by the breaker ${circuitBreakKey(err)}, never sent: ${err.details}`);
    break;
  }
  console.log(`call ${i}: the server answered ${err ? `${grpc.status[err.code]} ${err.details}` : 'OK'}`);
}
console.log(`The servers saw ${hits} calls; the rejected one never left this process.`);

client.close();
cbs.close();
for (const s of servers) s.server.forceShutdown();

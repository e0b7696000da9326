// A nice-grpc client guarded by a CBSuite: the instance level through the
// channel's options, the service level through cbsuiteMiddleware. One of three
// instances fails every call; its breaker trips and the other two take the
// calls. Then the whole service fails, the service breaker opens, and calls
// are rejected before they are sent.
//
// Run from the repository root: npx tsx examples/nice-grpc.ts
import { CBSuite } from '@cbsuite/grpc-interceptor';
import { cbsuiteMiddleware, circuitBreakKey, circuitBreakLevel, isCircuitBreakError } from '@cbsuite/nice-grpc';
import { EchoService, type SayReply, startEchoServer } from '@cbsuite/testkit/echo.js';
import * as grpc from '@grpc/grpc-js';
import { ClientError, createChannel, createClientFactory, Status } from 'nice-grpc';

const down = { code: grpc.status.UNAVAILABLE, details: 'database down' };
const servers = await Promise.all([0, 1, 2].map(() => startEchoServer()));
const sick = servers[0]!;
sick.setBehavior(() => down);

const cbs = new CBSuite(undefined, {
  fromService: 'checkout',
  instanceFailureCodes: ['UNAVAILABLE'], // a server's UNAVAILABLE counts against its instance
  instanceCBConfig: { errRate: 0.5, minSample: 3 },
  defaultServiceCBConfig: { errRate: 0.5, minSample: 10 },
});
cbs.onStateChange((e) =>
  console.log(
    `  the ${e.level} breaker ${e.key === sick.address ? 'of the sick instance' : e.key}: ${e.fromName} -> ${e.toName}`,
  ),
);

// The instance level sits in the channel (createChannel takes grpc-js channel options).
const channel = createChannel(
  `ipv4:${servers.map((s) => s.address).join(',')}`,
  grpc.credentials.createInsecure(),
  cbs.channelOptions(),
);
// The service level is the middleware, attached last so that it is the outermost.
interface Echo {
  Say(request: { text: string }): Promise<SayReply>;
}
const client = createClientFactory().use(cbsuiteMiddleware(cbs)).create(EchoService, channel) as unknown as Echo;

async function call(i: number): Promise<string> {
  try {
    const reply = await client.Say({ text: `call ${i}` });
    return reply.instance === sick.address ? 'answered by the sick instance' : 'answered by a healthy instance';
  } catch (err) {
    if (isCircuitBreakError(err)) {
      return `rejected by the ${circuitBreakLevel(err)} breaker ${circuitBreakKey(err)}, never sent: ${err.details}`;
    }
    if (err instanceof ClientError) return `failed: ${Status[err.code]} ${err.details}`;
    throw err;
  }
}

console.log('One instance of three fails every call:');
const outcomes = new Map<string, number>();
for (let i = 1; i <= 12; i++) {
  const o = await call(i);
  outcomes.set(o, (outcomes.get(o) ?? 0) + 1);
}
for (const [o, n] of [...outcomes].sort()) console.log(`  ${n} calls ${o}`);
console.log(`The sick instance saw ${sick.hits.Say} calls; the service breaker counts every call once.`);

console.log('Now the whole service fails:');
for (const s of servers) s.setBehavior(() => down);
const before = servers.reduce((n, s) => n + s.hits.Say, 0);
for (let i = 1; i <= 12; i++) {
  const o = await call(i);
  if (o.startsWith('rejected')) {
    console.log(`call ${i}: ${o}`);
    break;
  }
}
const sent = servers.reduce((n, s) => n + s.hits.Say, 0) - before;
const rejections = cbs.stats().service.rejections.get('checkout/echo.v1.Echo/Say');
console.log(
  `The servers saw ${sent} of these calls (9 failures in the 18 calls of the window); rejections: ${rejections}`,
);

channel.close();
cbs.close();
await Promise.all(servers.map((s) => s.close()));

// Runs `warm` then `calls` unary Says through one client, plain round_robin
// (`rr`), the suite (`cbs`), its instance policy alone (`policy`) or its
// interceptor alone (`interceptor`), against three echo servers in
// a child process. Meant to run under valgrind, where two runs with different
// `calls` give the client's instructions per call:
//   valgrind --tool=callgrind --callgrind-out-file=/dev/null node --import tsx src/instance-instructions.ts cbs 2000 4000
import { CBSuite } from '@cbsuite/grpc-interceptor';
import { startServerProcess } from '@cbsuite/testkit/child-server.js';
import { EchoClient, grpc, ipv4Target, ROUND_ROBIN, sayTimes } from '@cbsuite/testkit/echo.js';

const [variant = 'rr', warmArg = '2000', callsArg = '0'] = process.argv.slice(2);
const server = await startServerProcess(3, 0);
const target = ipv4Target(server.ports.map((port) => ({ port })));
const cbs = new CBSuite(undefined, { fromService: 'bench' });
// `policy`: the instance policy alone; `interceptor`: the interceptor over plain round_robin.
// Made on demand: channelOptions() turns the suite's instance level on.
const variants: Record<string, () => grpc.ChannelOptions> = {
  rr: () => ROUND_ROBIN,
  cbs: () => ({ ...cbs.channelOptions(), interceptors: [cbs.interceptor()] }),
  policy: () => cbs.channelOptions(),
  interceptor: () => ({ ...ROUND_ROBIN, interceptors: [cbs.interceptor()] }),
  // What any interceptor costs in grpc-js: one that only passes the call on.
  noop: () => ({
    ...ROUND_ROBIN,
    interceptors: [(o: grpc.InterceptorOptions, next: grpc.NextCall) => new grpc.InterceptingCall(next(o))],
  }),
};
const options = variants[variant]?.();
if (options === undefined)
  throw new Error(`variant must be one of ${Object.keys(variants).join(', ')}, got ${variant}`);
const client = new EchoClient(target, grpc.credentials.createInsecure(), options);
try {
  await sayTimes(client, Number(warmArg));
  await sayTimes(client, Number(callsArg));
} finally {
  client.close();
  await server.kill();
}

// How call outcomes count at the service level: the default table, a wrapped
// classifier that adds failures of its own, and a server that marks one of its
// errors as not worth counting.
//
// Run from the repository root: npx tsx examples/error-classification.ts
import { CBSuite, ErrorType, errorTypeByStatusCode, errorTypeTrailer } from '@cbsuite/grpc-interceptor';
import { EchoClient, say, startEchoServer } from '@cbsuite/testkit/echo.js';
import * as grpc from '@grpc/grpc-js';

const typeName = (t: ErrorType) => Object.entries(ErrorType).find(([, value]) => value === t)?.[0];

// Non-OK answers from a healthy service (NOT_FOUND, INVALID_ARGUMENT...) count as successes.
console.log("The default table (errorTypeOnServiceLevel, for answers without a server's mark):");
const codes = ['NOT_FOUND', 'INVALID_ARGUMENT', 'CANCELLED', 'DEADLINE_EXCEEDED', 'UNAVAILABLE', 'INTERNAL'] as const;
for (const code of codes) console.log(`  ${code.padEnd(17)} -> ${typeName(errorTypeByStatusCode(grpc.status[code]))}`);

// The server answers by request text. A missing user is a business answer, so
// it marks that NOT_FOUND ignorable; a missing shard is a sign of trouble.
const server = await startEchoServer((_method, text) => {
  if (text === 'no such user') {
    return { code: grpc.status.NOT_FOUND, details: text, trailers: errorTypeTrailer(ErrorType.Ignorable) };
  }
  if (text === 'shard missing') return { code: grpc.status.NOT_FOUND, details: text };
  if (text === 'bad request') return { code: grpc.status.INVALID_ARGUMENT, details: text };
  if (text === 'crash') return { code: grpc.status.INTERNAL, details: text };
  if (text === 'too slow') return { code: grpc.status.DEADLINE_EXCEEDED, details: text };
  return undefined;
});

// Asked only when the default says success: here a NOT_FOUND counts as a failure.
// (A server's mark wins: the default classifier reads it first.)
const cbs = new CBSuite(undefined, {
  wrappedServiceGetErrorType: (status) =>
    status.code === grpc.status.NOT_FOUND ? ErrorType.Failure : ErrorType.Success,
});
const client = new EchoClient(server.address, grpc.credentials.createInsecure(), {
  interceptors: [cbs.interceptor()],
});
const key = cbs.serviceKey('/echo.v1.Echo/Say');
// Read again each time: before its first call a key has no breaker, only an empty, frozen metricer.
const counts = () => {
  const m = cbs.servicePanel.getMetricer(key);
  return [m.successes(), m.failures(), m.timeouts()];
};

console.log('Calls through a suite whose wrappedServiceGetErrorType counts NOT_FOUND as a failure,');
console.log('to a server that marks its "no such user" answer ignorable with errorTypeTrailer:');
for (const text of ['hello', 'no such user', 'shard missing', 'bad request', 'crash', 'too slow']) {
  const before = counts();
  const { error } = await say(client, text);
  const after = counts();
  const counted = ['a success', 'a failure', 'a timeout'].find((_, i) => after[i] !== before[i]);
  const answer = `${JSON.stringify(text).padEnd(15)} ${(error ? grpc.status[error.code] : 'OK').padEnd(17)}`;
  console.log(`  ${answer} -> ${counted ? `counted as ${counted}` : 'not counted'}`);
}
const [successes, failures, timeouts] = counts();
console.log(`The window of ${key}: successes ${successes}, failures ${failures}, timeouts ${timeouts}`);

client.close();
cbs.close();
await server.close();

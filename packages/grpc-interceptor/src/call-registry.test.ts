import { EchoClient, grpc, startEchoServer } from '@cbsuite/testkit/echo.js';
import { afterEach, describe, expect, it } from 'vitest';
import { copiesOnStart } from './call-registry.js';

// The interceptor tags the caller's metadata in place, for the length of
// start() only, when the next call is grpc-js's own bottom call (its
// resolving call copies the metadata as it starts); any other next call gets
// a tagged copy. Run on every grpc-js of the matrix: a release that renames
// the classes loses the saving, not the tag.

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The next calls an interceptor at `position` of two is handed, for a unary and a streaming call. */
async function nextCalls(position: 'inner' | 'outer'): Promise<object[]> {
  const server = await startEchoServer();
  const seen: object[] = [];
  const capture: grpc.Interceptor = (options, next) => {
    const call = next(options);
    seen.push(call);
    return new grpc.InterceptingCall(call);
  };
  const passOn: grpc.Interceptor = (options, next) => new grpc.InterceptingCall(next(options));
  const client = new EchoClient(server.address, grpc.credentials.createInsecure(), {
    interceptors: position === 'inner' ? [passOn, capture] : [capture, passOn],
  });
  cleanups.push(
    () => server.close(),
    () => client.close(),
  );
  await new Promise((resolve) => client.Say({ text: 'x' }, resolve));
  const chat = client.Chat();
  chat.end();
  await new Promise((resolve) => chat.on('status', resolve).resume());
  return seen;
}

describe('copiesOnStart', () => {
  it("knows grpc-js's own bottom call, unary and streaming, however often it is asked", async () => {
    const seen = await nextCalls('inner');
    expect(seen).toHaveLength(2);
    expect(seen.map((c) => [copiesOnStart(c), copiesOnStart(c)])).toEqual([
      [true, true],
      [true, true],
    ]);
  });

  it('does not take an interceptor inside for one: it may start later, on the metadata it was given', async () => {
    const seen = await nextCalls('outer');
    expect(seen.map((c) => copiesOnStart(c))).toEqual([false, false]);
  });

  it.each([
    ['a plain object', {}],
    ['an object with a call that is not an object', { call: 1 }],
    [
      'a look-alike whose call is not a resolving call',
      new (class BaseInterceptingCall {
        call = {};
      })(),
    ],
    ['an object without a prototype', Object.create(null)],
  ])('does not take %s for one', (_name, value) => {
    expect(copiesOnStart(value)).toBe(false);
  });
});

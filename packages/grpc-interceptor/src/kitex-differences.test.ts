import { State } from '@cbsuite/core';
import { EchoClient, grpc, say, startEchoServer } from '@cbsuite/testkit/echo.js';
import { afterEach, describe, expect, it } from 'vitest';
import { CBSuite } from './cb-suite.js';

// Where we deliberately differ from Kitex (docs/semantics.md, "Differences
// from Kitex"), with real grpc-js clients and servers. Most rows are pinned
// next to the code they describe; these two need a whole channel.

const SAY = 'checkout/echo.v1.Echo/Say';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function suite() {
  const cbs = new CBSuite(undefined, { fromService: 'checkout', defaultServiceCBConfig: { minSample: 2 } });
  cleanups.push(() => cbs.close());
  return cbs;
}

describe('differences from Kitex, pinned', () => {
  it("records one outcome per logical call, after grpc-js's own retries (Kitex: every attempt)", async () => {
    let n = 0;
    const server = await startEchoServer(() => (++n <= 2 ? { code: grpc.status.UNAVAILABLE } : undefined));
    cleanups.push(() => server.close());
    const cbs = suite();
    const retryPolicy = {
      maxAttempts: 3,
      initialBackoff: '0.01s',
      maxBackoff: '0.01s',
      backoffMultiplier: 1,
      retryableStatusCodes: ['UNAVAILABLE'],
    };
    const client = new EchoClient(server.address, grpc.credentials.createInsecure(), {
      interceptors: [cbs.interceptor()],
      'grpc.service_config': JSON.stringify({ methodConfig: [{ name: [{ service: 'echo.v1.Echo' }], retryPolicy }] }),
    });
    cleanups.push(() => client.close());
    expect((await say(client, 'x')).value?.text).toBe('x');
    expect(server.hits.Say).toBe(3);
    const m = cbs.servicePanel.getMetricer(SAY);
    expect([m.successes(), m.failures(), m.timeouts()]).toEqual([1, 0, 0]);
  });

  it("counts a custom resolver's own error as a failure (Kitex: any discovery error is ignorable)", async () => {
    class FailingResolver {
      constructor(
        _target: unknown,
        private readonly listener: grpc.experimental.ResolverListener,
      ) {}
      updateResolution(): void {
        const error = { code: grpc.status.UNAVAILABLE, details: 'registry unreachable', metadata: new grpc.Metadata() };
        setImmediate(() => {
          if (typeof this.listener === 'function')
            this.listener(grpc.experimental.statusOrFromError(error), {}, null, '');
          // grpc-js before 1.14: a listener object.
          else (this.listener as unknown as { onError(e: grpc.StatusObject): void }).onError(error);
        });
      }
      destroy(): void {}
      static getDefaultAuthority(): string {
        return 'registry';
      }
    }
    grpc.experimental.registerResolver('cbs-test-registry', FailingResolver);
    const cbs = suite();
    const client = new EchoClient('cbs-test-registry:///echo', grpc.credentials.createInsecure(), {
      interceptors: [cbs.interceptor()],
    });
    cleanups.push(() => client.close());
    for (let i = 0; i < 2; i++) expect((await say(client, 'x')).error?.details).toBe('registry unreachable');
    expect(cbs.servicePanel.getMetricer(SAY).failures()).toBe(2);
    expect(cbs.servicePanel.breaker(SAY)?.state()).toBe(State.Open);
  });
});

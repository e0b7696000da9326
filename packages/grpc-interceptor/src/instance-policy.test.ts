import { fileURLToPath } from 'node:url';
import { type EchoClient, type EchoServer, grpc, ipv4Target, say, startEchoServer } from '@cbsuite/testkit/echo.js';
import { loadSecondGrpcCopy } from '@cbsuite/testkit/grpc-copy.js';
import * as protoLoader from '@grpc/proto-loader';
import { afterEach, describe, expect, it } from 'vitest';
import { CBSuite } from './cb-suite.js';
import type { CBFaultEvent } from './events.js';
import {
  INSTANCE_POLICY_NAME,
  isInstanceBreakerPolicyRegistered,
  registerInstanceBreakerPolicy,
} from './instance-policy.js';
import { grpcJsAtLeast } from './test-support/grpc-version.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('policy registration and config', () => {
  it('registers idempotently', () => {
    registerInstanceBreakerPolicy();
    registerInstanceBreakerPolicy(grpc);
    expect(isInstanceBreakerPolicyRegistered()).toBe(true);
  });

  it.each([
    [{ child_policy: [{ round_robin: {} }] }, undefined],
    [{}, undefined],
    // weighted_round_robin came in grpc-js 1.14.0.
    [
      { child_policy: [{ weighted_round_robin: {} }] },
      grpcJsAtLeast('1.14.0') ? undefined : /no policy of child_policy/,
    ],
    [{ child_policy: [{ pick_first: {} }] }, undefined],
    [{ child_policy: [] }, /child_policy must be a non-empty array/],
    [{ child_policy: [{ no_such_policy: {} }] }, /no policy of child_policy is registered/],
    [{ child_policy: [{ [INSTANCE_POLICY_NAME]: {} }] }, /cannot be itself/],
    [{ childPolicy: [] }, /unknown field "childPolicy"/],
    [[], /must be an object/],
  ])('parses %j', (config, error) => {
    registerInstanceBreakerPolicy();
    const parse = () => grpc.experimental.parseLoadBalancingConfig({ [INSTANCE_POLICY_NAME]: config });
    if (error) expect(parse).toThrow(error);
    else expect(parse().getLoadBalancerName()).toBe(INSTANCE_POLICY_NAME);
  });

  it('refuses bad channelOptions input', () => {
    const cbs = new CBSuite();
    expect(() => cbs.channelOptions({ childPolicy: 'random' as never })).toThrow(/childPolicy must be/);
    expect(() => cbs.channelOptions({ serviceConfig: 'x' as never })).toThrow(/serviceConfig must be an object/);
    expect(() => cbs.channelOptions({ policy: 1 } as never)).toThrow(/unknown field "policy"/);
    const opts = cbs.channelOptions({ childPolicy: 'pick_first', serviceConfig: { methodConfig: [] } });
    expect(JSON.parse(opts['grpc.service_config'] as string)).toEqual({
      methodConfig: [],
      loadBalancingConfig: [{ [INSTANCE_POLICY_NAME]: { child_policy: [{ pick_first: {} }] } }],
    });
    expect(JSON.stringify(opts)).toContain('[CBSuite instance level]');
  });
});

describe('the missing-registration guard', () => {
  const PROTO = fileURLToPath(new URL('../../../proto/echo.proto', import.meta.url));

  async function clientOnCopy(cbs: CBSuite, fix: boolean) {
    const copy = loadSecondGrpcCopy();
    const servers = await Promise.all([startEchoServer(), startEchoServer(), startEchoServer()]);
    // biome-ignore lint/suspicious/noExplicitAny: generated from the proto
    const echo = (copy.grpc.loadPackageDefinition(protoLoader.loadSync(PROTO)) as any).echo.v1;
    const client: EchoClient = new echo.Echo(ipv4Target(servers), copy.grpc.credentials.createInsecure(), {
      ...cbs.channelOptions(fix ? { grpc: copy.grpc } : {}),
      interceptors: [cbs.interceptor()],
    });
    cleanups.push(
      copy.remove,
      () => Promise.all(servers.map((s) => s.close())),
      () => client.close(),
      () => cbs.close(),
    );
    return { client, servers, copy };
  }

  it('fails loudly, with the fix, when the channel runs a grpc-js copy without the policy', async () => {
    const cbs = new CBSuite();
    const faults: CBFaultEvent[] = [];
    cbs.onFault((e) => faults.push(e));
    const { client, servers, copy } = await clientOnCopy(cbs, false);
    const md = () => new copy.grpc.Metadata() as unknown as grpc.Metadata;
    expect((await say(client, 'first', {}, md())).value?.text).toBe('first');
    expect(faults).toHaveLength(1);
    expect(faults[0]).toMatchObject({ level: 'instance', phase: 'policy' });
    const hits = servers.map((s: EchoServer) => s.total()).reduce((a, b) => a + b);
    const { error } = await say(client, 'second', {}, md());
    expect(error?.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(error?.details).toMatch(/does not run the "cbsuite_instance_cb" policy/);
    expect(error?.details).toMatch(/registerInstanceBreakerPolicy\(grpc\)/);
    expect(servers.map((s: EchoServer) => s.total()).reduce((a, b) => a + b)).toBe(hits);
  });

  it('only warns with onMissingPolicy: "warn"', async () => {
    const cbs = new CBSuite(undefined, { onMissingPolicy: 'warn' });
    const faults: CBFaultEvent[] = [];
    cbs.onFault((e) => faults.push(e));
    const { client, copy } = await clientOnCopy(cbs, false);
    const md = () => new copy.grpc.Metadata() as unknown as grpc.Metadata;
    await say(client, 'a', {}, md());
    expect((await say(client, 'b', {}, md())).value?.text).toBe('b');
    expect(faults).toHaveLength(1);
  });

  it('works on that copy once the policy is registered there', async () => {
    const cbs = new CBSuite();
    const faults: CBFaultEvent[] = [];
    cbs.onFault((e) => faults.push(e));
    const { client, servers, copy } = await clientOnCopy(cbs, true);
    expect(isInstanceBreakerPolicyRegistered(copy.grpc)).toBe(true);
    const md = () => new copy.grpc.Metadata() as unknown as grpc.Metadata;
    for (let i = 0; i < 30; i++) expect((await say(client, `${i}`, {}, md())).error).toBeUndefined();
    expect(servers.every((s: EchoServer) => s.total() > 0)).toBe(true);
    expect(faults).toEqual([]);
    expect(cbs.instanceAddresses()).toHaveLength(3);
  });
});

import { fileURLToPath } from 'node:url';
import { State } from '@cbsuite/core';
import { type EchoClient, type EchoServer, grpc, ipv4Target, say, startEchoServer } from '@cbsuite/testkit/echo.js';
import { loadSecondGrpcCopy } from '@cbsuite/testkit/grpc-copy.js';
import { ManualClock } from '@cbsuite/testkit/manual-clock.js';
import * as protoLoader from '@grpc/proto-loader';
import { afterEach, describe, expect, it } from 'vitest';
import { CBSuite } from './cb-suite.js';
import { circuitBreakLevel } from './circuit-break-error.js';
import type { CBFaultEvent } from './events.js';
import { InstanceLevel } from './instance-level.js';
import {
  BreakerPicker,
  CALL_ID_HEADER,
  INSTANCE_POLICY_NAME,
  isInstanceBreakerPolicyRegistered,
  registerInstanceBreakerPolicy,
} from './instance-policy.js';
import { rpcInfoOf } from './rpc-info.js';
import { grpcJsAtLeast } from './test-support/grpc-version.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const { PickResultType } = grpc.experimental;
type PickResult = grpc.experimental.PickResult;

/** A child picker over fixed addresses, round robin, that counts its picks. */
function childOver(addresses: string[]) {
  let next = 0;
  const picker = {
    picks: 0,
    pick(): PickResult {
      picker.picks++;
      const address = addresses[next++ % addresses.length] as string;
      return {
        pickResultType: PickResultType.COMPLETE,
        subchannel: { getAddress: () => address } as unknown as grpc.experimental.SubchannelInterface,
        status: null,
        onCallStarted: null,
        onCallEnded: null,
      };
    },
  };
  return picker;
}

function level(clock = new ManualClock(), extra = {}) {
  const faults: unknown[] = [];
  const l = new InstanceLevel(
    {
      panelOptions: { now: clock.now, ...extra },
      defaults: { minSample: 1 },
      makeTrip: () => () => true,
      getErrorType: (s) => (s.code === grpc.status.OK ? 3 : 2),
    },
    { stateChange: () => {}, fault: (...a) => faults.push(a) },
  );
  return { l, clock, faults };
}

const args = (callId?: number): grpc.experimental.PickArgs => {
  const metadata = new grpc.Metadata();
  if (callId !== undefined) metadata.set(CALL_ID_HEADER, String(callId));
  return { metadata, extraPickInfo: {} };
};
const addressOf = (r: PickResult) => r.subchannel?.getAddress();
const end = (r: PickResult, code: grpc.status, details = '') => r.onCallEnded?.(code, details, new grpc.Metadata());

describe('BreakerPicker', () => {
  it('skips tripped instances and records each attempt', () => {
    const { l } = level();
    l.panel.fail('b');
    const child = childOver(['a', 'b', 'c']);
    const picker = new BreakerPicker(child, l, 3, grpc.experimental);
    expect([addressOf(picker.pick(args())), addressOf(picker.pick(args()))]).toEqual(['a', 'c']);
    expect(child.picks).toBe(3);
    const r = picker.pick(args());
    expect(addressOf(r)).toBe('a');
    end(r, grpc.status.OK);
    expect(l.panel.getMetricer('a').successes()).toBe(1);
    expect(l.stats().skips.get('b')).toBe(1);
  });

  it('drops the call when every instance is tripped, after a bounded number of picks', () => {
    const { l } = level();
    l.panel.fail('a');
    const child = childOver(['a']);
    const r = new BreakerPicker(child, l, 1, grpc.experimental).pick(args());
    expect(r.pickResultType).toBe(PickResultType.DROP);
    expect(r.status?.code).toBe(grpc.status.UNAVAILABLE);
    expect(r.status?.details).toBe('forbidden by circuitbreaker: instance circuitbreak');
    expect(circuitBreakLevel(r.status)).toBe('instance');
    expect(child.picks).toBe(6);
    expect(l.stats().drops).toBe(1);
  });

  it('strips the call id, skips instances the call already tried, and goes back to one only when nothing else is left', () => {
    const { l } = level();
    const id = l.beginCall(rpcInfoOf('', '/a.B/C'));
    const picker = new BreakerPicker(childOver(['a', 'b', 'c']), l, 3, grpc.experimental);
    const a1 = args(id);
    expect(addressOf(picker.pick(a1))).toBe('a');
    expect(a1.metadata.get(CALL_ID_HEADER)).toEqual([]);
    expect(l.call(id)?.picked).toBe(true);
    expect(addressOf(picker.pick(args(id)))).toBe('b');
    l.panel.fail('c');
    expect(addressOf(picker.pick(args(id)))).toBe('a');
    expect(l.call(id)?.tried).toEqual(['a', 'b', 'a']);
  });

  it('passes through a child result that is not a pick', () => {
    const { l } = level();
    const queue = {
      pick: () => ({
        pickResultType: PickResultType.QUEUE,
        subchannel: null,
        status: null,
        onCallStarted: null,
        onCallEnded: null,
      }),
    };
    expect(new BreakerPicker(queue, l, 1, grpc.experimental).pick(args()).pickResultType).toBe(PickResultType.QUEUE);
  });

  it('gives back a half-open probe taken by a pick that grpc-js never used', () => {
    const { l, clock } = level(new ManualClock(), { halfOpenMaxProbes: 1, halfOpenSuccesses: 1 });
    l.panel.fail('a');
    clock.advance(5000);
    const picker = new BreakerPicker(childOver(['a']), l, 1, grpc.experimental);
    const id = l.beginCall(rpcInfoOf('', '/a.B/C'));
    const first = picker.pick(args(id));
    expect(addressOf(first)).toBe('a');
    expect(l.panel.breaker('a')?.state()).toBe(State.HalfOpen);
    // grpc-js picks again (the subchannel left READY before the attempt started): the probe comes back.
    const second = picker.pick(args(id));
    expect(addressOf(second)).toBe('a');
    second.onCallStarted?.();
    // Another call meanwhile finds the one probe slot taken.
    expect(new BreakerPicker(childOver(['a']), l, 1, grpc.experimental).pick(args()).pickResultType).toBe(
      PickResultType.DROP,
    );
    end(second, grpc.status.OK);
    expect(l.panel.breaker('a')?.state()).toBe(State.Closed);
  });

  it('gives back the unstarted probe of a call that ends without an attempt', () => {
    const { l, clock } = level(new ManualClock(), { halfOpenMaxProbes: 1 });
    l.panel.fail('a');
    clock.advance(5000);
    const picker = new BreakerPicker(childOver(['a']), l, 1, grpc.experimental);
    const id = l.beginCall(rpcInfoOf('', '/a.B/C'));
    picker.pick(args(id));
    expect(picker.pick(args()).pickResultType).toBe(PickResultType.DROP);
    l.endCall(id);
    expect(addressOf(picker.pick(args()))).toBe('a');
  });
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

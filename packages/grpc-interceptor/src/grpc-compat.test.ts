import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OptionRangeError } from '@cbsuite/core';
import { grpc } from '@cbsuite/testkit/echo.js';
import { afterAll, describe, expect, it } from 'vitest';
import { CBSuite } from './cb-suite.js';
import {
  checkInstanceLevelSupport,
  endpointsOf,
  grpcVersionOf,
  MIN_GRPC_JS_VERSION,
  onCallEndedGetsStatus,
} from './grpc-compat.js';
import {
  INSTANCE_LEVEL_OPTION,
  isInstanceBreakerPolicyRegistered,
  registerInstanceBreakerPolicy,
} from './instance-policy.js';
import { GRPC_JS_VERSION, grpcJsAtLeast } from './test-support/grpc-version.js';
import { isUnsupportedGrpcError, UnsupportedGrpcError } from './unsupported-grpc-error.js';

const require = createRequire(import.meta.url);
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/**
 * A module that calls itself @grpc/grpc-js `version`, loaded through require
 * like the real one, with an experimental API made of `names` (grpc-js 1.9
 * had none of the endpoint-era helpers).
 */
function fakeGrpc(version: string, names: string[]): typeof grpc {
  const root = mkdtempSync(join(tmpdir(), 'cbsuite-fake-grpc-'));
  dirs.push(root);
  const dir = join(root, 'node_modules', '@grpc', 'grpc-js');
  mkdirSync(join(dir, 'build', 'src'), { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: '@grpc/grpc-js', version, main: 'build/src/index.js' }),
  );
  const api = names.map((n) => `${JSON.stringify(n)}: function () {}`).join(',');
  writeFileSync(join(dir, 'build', 'src', 'index.js'), `exports.experimental = { ${api} };\n`);
  return createRequire(join(root, 'index.js'))('@grpc/grpc-js');
}

const GRPC_1_9 = [
  'registerLoadBalancerType',
  'ChildLoadBalancerHandler',
  'createChildChannelControlHelper',
  'subchannelAddressToString',
  'PickResultType',
];

describe('the grpc-js under test', () => {
  it('is the one asked for (the grpc-js matrix sets CBSUITE_GRPC_JS_VERSION)', () => {
    const expected = process.env.CBSUITE_GRPC_JS_VERSION ?? require('@grpc/grpc-js/package.json').version;
    expect(GRPC_JS_VERSION).toBe(expected);
    expect(grpcJsAtLeast(MIN_GRPC_JS_VERSION)).toBe(true);
  });

  it('hosts the instance level', () => {
    expect(() => checkInstanceLevelSupport(grpc)).not.toThrow();
    registerInstanceBreakerPolicy(grpc);
    expect(isInstanceBreakerPolicyRegistered(grpc)).toBe(true);
  });

  it('keeps the suite option out of subchannel arguments under the same key on every version', () => {
    expect(INSTANCE_LEVEL_OPTION).toBe('grpc.internal.no_subchannel.cbsuite');
    const prefix = (grpc.experimental as { SUBCHANNEL_ARGS_EXCLUDE_KEY_PREFIX?: string })
      .SUBCHANNEL_ARGS_EXCLUDE_KEY_PREFIX;
    expect(prefix).toBe(grpcJsAtLeast('1.13.0') ? 'grpc.internal.no_subchannel' : undefined);
  });

  it('passes onCallEnded the details and trailers from 1.14.0 on', () => {
    expect(onCallEndedGetsStatus(grpc.experimental)).toBe(grpcJsAtLeast('1.14.0'));
  });

  it('refuses weighted_round_robin as a child before 1.14.0, naming the version', () => {
    const cbs = new CBSuite();
    const make = () => cbs.channelOptions({ childPolicy: 'weighted_round_robin' });
    const reason = `is not in @grpc/grpc-js ${GRPC_JS_VERSION} (weighted_round_robin came in 1.14.0)`;
    if (grpcJsAtLeast('1.14.0')) expect(make).not.toThrow();
    else expect(make).toThrow(new OptionRangeError('childPolicy', 'weighted_round_robin', reason));
    cbs.close();
  });
});

describe('a grpc-js too old for the instance level', () => {
  it('is refused with an UnsupportedGrpcError naming its version, the minimum and what is missing', () => {
    const old = fakeGrpc('1.9.15', GRPC_1_9);
    let err: unknown;
    try {
      registerInstanceBreakerPolicy(old);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UnsupportedGrpcError);
    expect(err).toMatchObject({
      name: 'UnsupportedGrpcError',
      version: '1.9.15',
      minimum: '1.10.0',
      missing: ['isLoadBalancerNameRegistered', 'selectLbConfigFromList', 'endpointToString'],
      message:
        '@grpc/grpc-js 1.9.15 cannot host the cbsuite instance-level breaker: its experimental load-balancing API ' +
        'lacks isLoadBalancerNameRegistered, selectLbConfigFromList, endpointToString. ' +
        'Use @grpc/grpc-js 1.10.0 or newer.',
    });
    expect(isInstanceBreakerPolicyRegistered(old)).toBe(false);
  });

  it('is refused by channelOptions({ grpc }) before any channel is made', () => {
    const cbs = new CBSuite();
    expect(() => cbs.channelOptions({ grpc: fakeGrpc('1.8.22', GRPC_1_9) })).toThrow(
      /^@grpc\/grpc-js 1\.8\.22 cannot host the cbsuite instance-level breaker/,
    );
    cbs.close();
  });

  it('says "unknown version" for a module object made by hand', () => {
    const handMade = { experimental: {} } as unknown as typeof grpc;
    expect(grpcVersionOf(handMade)).toBeUndefined();
    expect(() => checkInstanceLevelSupport(handMade)).toThrow(/^@grpc\/grpc-js \(unknown version\) cannot host/);
  });

  it('is recognised by its brand across copies of this package', () => {
    const foreign = Object.defineProperty(
      new Error('x'),
      Symbol.for('@cbsuite/grpc-interceptor:UnsupportedGrpcError'),
      {
        value: true,
      },
    );
    expect(isUnsupportedGrpcError(foreign)).toBe(true);
    expect(foreign instanceof UnsupportedGrpcError).toBe(true);
    expect(isUnsupportedGrpcError(new Error('x'))).toBe(false);
    expect(isUnsupportedGrpcError(undefined)).toBe(false);
  });
});

describe('address updates', () => {
  const endpoints = [{ addresses: [{ host: '127.0.0.1', port: 1 }] }];

  it('reads a plain endpoint list (grpc-js < 1.14) and a StatusOr (1.14)', () => {
    expect(endpointsOf(endpoints)).toBe(endpoints);
    expect(endpointsOf({ ok: true, value: endpoints })).toBe(endpoints);
    expect(endpointsOf({ ok: false, error: { code: 14, details: 'x', metadata: null } })).toBeUndefined();
    expect(endpointsOf(undefined)).toBeUndefined();
  });
});

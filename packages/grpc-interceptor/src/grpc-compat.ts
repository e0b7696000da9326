import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as GrpcModule from '@grpc/grpc-js';
import type { experimental } from '@grpc/grpc-js';
import { UnsupportedGrpcError } from './unsupported-grpc-error.js';

// What changed in grpc-js's experimental load-balancing API between 1.10 and
// 1.14, and how the instance policy copes with each, by feature rather than
// by version number:
//
// | grpc-js   | policy constructor          | updateAddressList                           | onCallEnded             |
// | --------- | --------------------------- | ------------------------------------------- | ----------------------- |
// | 1.10–1.11 | (helper, channelOptions)    | (Endpoint[], config, resolverAttributes)    | (code)                  |
// | 1.12      | (helper, creds, options)    | (Endpoint[], config, resolverAttributes)    | (code)                  |
// | 1.13      | (helper)                    | (Endpoint[], config, channelOptions)        | (code)                  |
// | 1.14      | (helper)                    | (StatusOr<Endpoint[]>, config, opts, note)  | (code, details, trailers) |
//
// The policy hands the constructor's extra arguments on to its child handler,
// looks for the suite in both places, accepts both address-list shapes, and,
// where onCallEnded gets only the code, reads the attempt's full status off
// the subchannel call (instance-picker.ts).

/** The oldest grpc-js whose experimental API can host the instance-level policy. */
export const MIN_GRPC_JS_VERSION = '1.10.0';

/**
 * The prefix that keeps a channel option out of subchannel arguments
 * (grpc-js 1.13+). Older versions hand every option to subchannels; a key
 * with this prefix is then an ordinary option there, which is harmless.
 */
export const NO_SUBCHANNEL_PREFIX = 'grpc.internal.no_subchannel';

type Grpc = typeof GrpcModule;
type X = typeof experimental;

// What the policy uses, and endpointToString as the mark of the endpoint
// lists it reads; all of it is in 1.10.0. Before 1.10 the API took bare
// addresses and lacked the config helpers.
const REQUIRED = [
  'registerLoadBalancerType',
  'isLoadBalancerNameRegistered',
  'selectLbConfigFromList',
  'ChildLoadBalancerHandler',
  'createChildChannelControlHelper',
  'subchannelAddressToString',
  'endpointToString',
  'PickResultType',
] as const;

/**
 * Throws an {@link UnsupportedGrpcError} when `grpc` lacks a part of the
 * experimental API that the instance policy needs.
 */
export function checkInstanceLevelSupport(grpc: Grpc): void {
  const x = (grpc as { experimental?: Partial<Record<string, unknown>> }).experimental;
  const missing = REQUIRED.filter((name) => x?.[name] === undefined);
  if (missing.length > 0) throw new UnsupportedGrpcError(grpcVersionOf(grpc), MIN_GRPC_JS_VERSION, missing);
}

/** The experimental option key prefix of `grpc`, or the one grpc-js 1.13+ uses. */
export function noSubchannelPrefix(grpc: Grpc): string {
  const x = grpc.experimental as Partial<X>;
  return x.SUBCHANNEL_ARGS_EXCLUDE_KEY_PREFIX ?? NO_SUBCHANNEL_PREFIX;
}

/**
 * The child handler's constructor as every version declares it: 1.10–1.12
 * take the channel options (and in 1.12 the credentials) after the helper.
 */
export type ChildHandlerConstructor = new (
  helper: experimental.ChannelControlHelper,
  ...rest: unknown[]
) => experimental.ChildLoadBalancerHandler;

/** The channel options among a policy constructor's extra arguments (1.10–1.12), if any. */
export function constructorOptions(rest: readonly unknown[]): Record<string, unknown> | undefined {
  const last = rest[rest.length - 1];
  return typeof last === 'object' && last !== null ? (last as Record<string, unknown>) : undefined;
}

/** The endpoints of an address update: a plain list (≤ 1.13) or a `StatusOr` (1.14). */
export function endpointsOf(update: unknown): experimental.Endpoint[] | undefined {
  if (Array.isArray(update)) return update;
  const s = update as experimental.StatusOr<experimental.Endpoint[]> | undefined;
  return s?.ok === true ? s.value : undefined;
}

const endedGetsStatus = new WeakMap<object, boolean>();

/**
 * Whether grpc-js passes `onCallEnded` the details and trailers besides the
 * code. Both came in 1.14.0, with the `StatusOr` helpers it exports.
 */
export function onCallEndedGetsStatus(x: X): boolean {
  let v = endedGetsStatus.get(x);
  if (v === undefined) {
    v = typeof (x as Partial<X>).statusOrFromValue === 'function';
    endedGetsStatus.set(x, v);
  }
  return v;
}

/**
 * The version of a grpc-js module object, read from the package.json next to
 * the file it was loaded from; undefined when it cannot be found (a bundle,
 * a module object made by hand). For error messages only.
 */
export function grpcVersionOf(grpc: unknown): string | undefined {
  const x = (grpc as { experimental?: unknown } | undefined)?.experimental;
  if (x === undefined) return undefined;
  try {
    // Every require function shares one module cache; grpc-js is CommonJS, so
    // it is in there even when imported from ESM (as a namespace object, whose
    // `experimental` is the same object).
    const cache = createRequire(join(process.cwd(), 'index.js')).cache;
    for (const m of Object.values(cache)) {
      if (m === undefined || (m.exports as { experimental?: unknown } | undefined)?.experimental !== x) continue;
      for (let dir = dirname(m.filename); dir !== dirname(dir); dir = dirname(dir)) {
        const file = join(dir, 'package.json');
        if (!existsSync(file)) continue;
        const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
        if (pkg.name === '@grpc/grpc-js') return pkg.version;
      }
    }
  } catch {
    // Best effort: the error then says "an unknown version".
  }
  return undefined;
}

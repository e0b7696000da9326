const BRAND = Symbol.for('@cbsuite/grpc-interceptor:UnsupportedGrpcError');

/**
 * The grpc-js a channel would use cannot host the instance-level policy: its
 * experimental load-balancing API lacks what the policy needs. Thrown by
 * `registerInstanceBreakerPolicy` and `CBSuite.channelOptions`. cbsuite
 * supports grpc-js 1.10.0 and newer (`MIN_GRPC_JS_VERSION`).
 */
export class UnsupportedGrpcError extends Error {
  override readonly name = 'UnsupportedGrpcError';

  constructor(
    /** The version found, or undefined when it could not be read. */
    readonly version: string | undefined,
    /** The oldest grpc-js the instance level runs on. */
    readonly minimum: string,
    /** The parts of `grpc.experimental` that are missing. */
    readonly missing: readonly string[],
  ) {
    super(
      `@grpc/grpc-js ${version ?? '(unknown version)'} cannot host the cbsuite instance-level breaker: ` +
        `its experimental load-balancing API lacks ${missing.join(', ')}. ` +
        `Use @grpc/grpc-js ${minimum} or newer.`,
    );
    Object.defineProperty(this, BRAND, { value: true });
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: subclasses keep ordinary instanceof
    if (this !== UnsupportedGrpcError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return isUnsupportedGrpcError(value);
  }
}

/** True when `err` is an {@link UnsupportedGrpcError} from any copy of this package. */
export function isUnsupportedGrpcError(err: unknown): err is UnsupportedGrpcError {
  return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[BRAND] === true;
}

import { peerRequire } from './peer-require.cjs';

// A registered symbol, so the guard works across installed copies of this package.
const BRAND = Symbol.for('@cbsuite/grpc-interceptor:MissingPeerError');

/**
 * An optional peer dependency that an entry point needs is not installed:
 * `@cbsuite/grpc-interceptor/prometheus` needs `prom-client`,
 * `@cbsuite/grpc-interceptor/otel` needs `@opentelemetry/api`. The message
 * names the package, the versions supported and the command that installs it.
 */
export class MissingPeerError extends Error {
  override readonly name = 'MissingPeerError';
  /** Always `CBSUITE_MISSING_PEER`. */
  readonly code = 'CBSUITE_MISSING_PEER';

  constructor(
    /** The package missing, for example `prom-client`. */
    readonly peer: string,
    /** The versions supported, as a semver range. */
    readonly range: string,
    /** The entry point that needs it, for example `@cbsuite/grpc-interceptor/prometheus`. */
    readonly entry: string,
    options?: { cause?: unknown },
  ) {
    super(
      `${entry} needs the optional peer dependency ${peer} (${range}), which is not installed. ` +
        `Install it next to @cbsuite/grpc-interceptor: npm install ${peer} (or pnpm add ${peer}, yarn add ${peer}).`,
      options,
    );
    Object.defineProperty(this, BRAND, { value: true });
  }
}

/** True when `err` is a {@link MissingPeerError} from any copy of this package. */
export function isMissingPeerError(err: unknown): err is MissingPeerError {
  return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[BRAND] === true;
}

/** What loads a module by name; `require` from this package by default. */
export type PeerLoader = (id: string) => unknown;

/**
 * Loads the optional peer `peer` for `entry`, or throws a
 * {@link MissingPeerError} when it is not installed. Any other failure (a
 * broken install) is thrown as it is.
 */
export function loadPeer<T>(peer: string, range: string, entry: string, load: PeerLoader = peerRequire): T {
  try {
    return load(peer) as T;
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown };
    const missing =
      (e?.code === 'MODULE_NOT_FOUND' || e?.code === 'ERR_MODULE_NOT_FOUND') &&
      typeof e.message === 'string' &&
      e.message.includes(`'${peer}'`);
    if (missing) throw new MissingPeerError(peer, range, entry, { cause: err });
    throw err;
  }
}

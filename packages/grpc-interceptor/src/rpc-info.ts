/**
 * What the service-level breaker knows about a call (Kitex's `RPCInfo`, cut
 * down to what a client interceptor sees).
 */
export interface RPCInfo {
  /** The calling service: the suite's `fromService` option (may be empty). */
  readonly from: string;
  /** The called service, `package.Service`, from the method path. */
  readonly to: string;
  /** The method name. */
  readonly method: string;
  /** The full method path as grpc-js has it, `/package.Service/Method`. */
  readonly path: string;
}

/** Makes the service-level key of a call (Kitex's `GenServiceCBKeyFunc`). */
export type GenServiceCBKeyFunc = (ri: RPCInfo) => string;

/**
 * `from/to/method`, Kitex's `RPCInfo2Key`. With no `fromService` the key
 * starts with a slash: `/echo.v1.Echo/Say`.
 */
export const rpcInfo2Key: GenServiceCBKeyFunc = (ri) => `${ri.from}/${ri.to}/${ri.method}`;

/**
 * Splits a method path into service and method. A path of the form
 * `/package.Service/Method` gives `{to: 'package.Service', method: 'Method'}`;
 * any other string (no leading slash, no second slash, a second slash at the
 * end, more slashes) gives `{to: '', method: path}`, so it still makes a
 * stable key of its own.
 */
export function parseMethodPath(path: string): { to: string; method: string } {
  if (path.length > 2 && path.charCodeAt(0) === 47 /* / */) {
    const slash = path.indexOf('/', 1);
    if (slash > 1 && slash < path.length - 1 && path.indexOf('/', slash + 1) < 0) {
      return { to: path.slice(1, slash), method: path.slice(slash + 1) };
    }
  }
  return { to: '', method: path };
}

/** The `RPCInfo` of a call to `path` from `from`. */
export function rpcInfoOf(from: string, path: string): RPCInfo {
  const { to, method } = parseMethodPath(path);
  return { from, to, method, path };
}

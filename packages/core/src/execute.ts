import { ErrorType, isErrorType } from './error-type.js';
import { BreakerTimeoutError, type CircuitBreakerError, withoutStack } from './errors.js';
import { OptionTypeError } from './option-error.js';
import { NO_PERMIT, PERMIT, type Permit } from './permit.js';
import { checkFunction, checkNumber } from './validate.js';

/** Per-call options of `execute`. */
export interface ExecuteOptions {
  /**
   * Give up after this many ms: the call's signal is aborted, the outcome is
   * recorded as a timeout and the promise rejects with a `BreakerTimeoutError`.
   */
  readonly timeoutMs?: number;
  /** The caller's signal. Aborting it rejects with its reason and records nothing. */
  readonly signal?: AbortSignal;
  /** Classifies a thrown error. Default: every error is a `Failure`. */
  readonly classify?: (err: unknown) => ErrorType;
}

/**
 * The function `execute` runs. It receives an abort signal when the call has
 * a `timeoutMs` or a caller's `signal`, and `undefined` otherwise (the fast
 * path makes no `AbortController`).
 */
export type Executable<T> = (signal: AbortSignal | undefined) => T | PromiseLike<T>;

/** A function that needs its signal: `execute` takes it with options that set `timeoutMs` or `signal`. */
export type SignalledExecutable<T> = (signal: AbortSignal) => T | PromiseLike<T>;

/** Options with which `execute` always passes a signal: a `timeoutMs`, a caller's `signal`, or both. */
export type SignalledExecuteOptions = ExecuteOptions &
  ({ readonly timeoutMs: number } | { readonly signal: AbortSignal });

/** What `execute` runs a call through: a breaker's acquire, record and release. */
export interface Executor {
  readonly key: string;
  acquire(): Permit;
  release(permit: Permit): void;
  record(type: ErrorType, latencyMs?: number, permit?: Permit): void;
  succeed(latencyMs?: number, permit?: Permit): void;
  fail(latencyMs?: number, permit?: Permit): void;
  timeout(latencyMs?: number, permit?: Permit): void;
  /** The shared rejection of the current state. */
  rejection(): Rejection;
  /** The executor's clock, when it measures latency (slow calls tracked). */
  readonly latencyClock: (() => number) | undefined;
  /** @internal execute's handlers of plain calls, made once per executor. */
  executeHandlers: ExecuteHandlers | undefined;
}

/** The error and the (handled) rejected promise every call rejected in one state shares. */
export interface Rejection {
  readonly error: CircuitBreakerError;
  readonly promise: Promise<never>;
}

/** @internal */
export interface ExecuteHandlers {
  // biome-ignore lint/suspicious/noExplicitAny: shared by every T of one executor
  readonly ok: (value: any) => any;
  readonly err: (err: unknown) => never;
}

const ignore = () => {};

/**
 * One error and one rejected promise for every call rejected in a state. The
 * promise is marked handled when made: awaiting a promise that is rejected
 * with no handler costs ~1 µs more in Node, which tracks it as a possible
 * unhandled rejection. The error has no stack trace (the hot rejection path).
 */
export function makeRejection(make: () => CircuitBreakerError): Rejection {
  const error = withoutStack(make);
  const promise = Promise.reject(error);
  promise.catch(ignore);
  return { error, promise };
}

/**
 * Runs `fn` if `b` allows it and records how it ended: a fulfilled promise is
 * a success, a rejection a failure (or what `classify` says), `timeoutMs`
 * passing a timeout. When not allowed, rejects at once with `b`'s shared
 * rejection and does not call `fn`.
 */
export function execute<T>(b: Executor, fn: Executable<T>, options: ExecuteOptions | undefined): Promise<T> {
  const permit = b.acquire();
  if (permit === NO_PERMIT) return b.rejection().promise;
  if (options === undefined && permit === PERMIT && b.latencyClock === undefined) {
    const h = b.executeHandlers ?? handlersOf(b);
    let result: T | PromiseLike<T>;
    try {
      result = fn(undefined);
    } catch (err) {
      b.fail();
      return Promise.reject(err);
    }
    return Promise.resolve(result).then(h.ok, h.err) as Promise<T>;
  }
  return executeWithOptions(b, fn, permit, options);
}

function handlersOf(b: Executor): ExecuteHandlers {
  const h: ExecuteHandlers = {
    ok: (value) => {
      b.succeed();
      return value;
    },
    err: (err) => {
      b.fail();
      throw err;
    },
  };
  b.executeHandlers = h;
  return h;
}

// A probe, a measured latency, a timeout, a caller's signal or a classifier:
// one promise with its own settle-once bookkeeping.
function executeWithOptions<T>(
  b: Executor,
  fn: Executable<T>,
  permit: Permit,
  options: ExecuteOptions | undefined,
): Promise<T> {
  const timeoutMs = options?.timeoutMs;
  const signal = options?.signal;
  const classify = options?.classify;
  try {
    if (timeoutMs !== undefined) checkNumber('timeoutMs', timeoutMs, 0);
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new OptionTypeError('signal', signal, 'must be an AbortSignal');
    }
    if (classify !== undefined) checkFunction('classify', classify);
  } catch (err) {
    b.release(permit);
    return Promise.reject(err);
  }
  if (signal?.aborted) {
    b.release(permit);
    return Promise.reject(signal.reason);
  }
  const clock = b.latencyClock;
  const start = clock === undefined ? 0 : clock();
  const latency = () => (clock === undefined ? undefined : clock() - start);

  return new Promise<T>((resolve, reject) => {
    let settled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const controller = timeoutMs !== undefined || signal !== undefined ? new AbortController() : undefined;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      return true;
    };
    const onAbort = () => {
      if (!settle()) return;
      b.record(ErrorType.Ignorable, undefined, permit);
      controller?.abort(signal?.reason);
      reject(signal?.reason);
    };
    const onError = (err: unknown) => {
      if (!settle()) return;
      let type: ErrorType = ErrorType.Failure;
      if (classify !== undefined) {
        try {
          const t = classify(err);
          if (isErrorType(t)) type = t;
        } catch {
          // A throwing classifier leaves the default: a failure.
        }
      }
      b.record(type, latency(), permit);
      reject(err);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => {
        if (!settle()) return;
        const err = new BreakerTimeoutError(b.key, timeoutMs);
        b.timeout(latency(), permit);
        controller?.abort(err);
        reject(err);
      }, timeoutMs);
    }
    let result: T | PromiseLike<T>;
    try {
      result = fn(controller?.signal);
    } catch (err) {
      onError(err);
      return;
    }
    Promise.resolve(result).then((value) => {
      if (!settle()) return;
      b.succeed(latency(), permit);
      resolve(value);
    }, onError);
  });
}

// The brand is a registered symbol, so the guard keeps working when two
// copies of @cbsuite/redis-sync are installed (or both of its builds load).
const BRAND = Symbol.for('@cbsuite/redis-sync:RedisSyncError');

/** What went wrong: the sync is not ready in time, Redis refused a command, or the sync is closed. */
export type RedisSyncErrorCode = 'notReady' | 'redis' | 'closed';

/** An error of the sync itself, as `ready()` and the publish methods report it. */
export class RedisSyncError extends Error {
  override readonly name = 'RedisSyncError';
  readonly code: RedisSyncErrorCode;
  /** The Redis key the error is about, when there is one. */
  readonly key: string | undefined;

  constructor(code: RedisSyncErrorCode, message: string, key?: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    Object.defineProperty(this, BRAND, { value: true });
    this.code = code;
    this.key = key;
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: subclasses keep ordinary instanceof
    if (this !== RedisSyncError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return isRedisSyncError(value);
  }
}

/** True when `err` is a {@link RedisSyncError} from any copy of @cbsuite/redis-sync. */
export function isRedisSyncError(err: unknown): err is RedisSyncError {
  return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[BRAND] === true;
}

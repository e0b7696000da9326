import { checkKeys, checkNumber } from './validate.js';

/**
 * Returns how long to stay OPEN (ms) before the next probe. `attempt` is 0 for
 * the open that follows a trip and counts the failed probes since; it goes
 * back to 0 when the breaker closes. `random` returns a number in [0, 1).
 */
export type BackoffFunc = (attempt: number, baseMs: number, random: () => number) => number;

/** Options of {@link exponentialBackoff}. */
export interface ExponentialBackoffOptions {
  /** Growth per failed probe. Default 2. */
  readonly multiplier?: number;
  /** Cap on the cooling time, in ms. Default 60_000. */
  readonly maxMs?: number;
  /**
   * Spread, as a share of the delay: the delay is scaled by a random factor in
   * `[1 - jitter, 1 + jitter]` (then capped) so that replicas that opened
   * together do not probe together. Default 0.2; 0 turns it off.
   */
  readonly jitter?: number;
}

/**
 * Exponential cooling backoff: `min(maxMs, baseMs * multiplier ** attempt)`,
 * spread by `jitter`. `baseMs` is the breaker's `coolingTimeoutMs`, so the first
 * open after a trip cools for about `coolingTimeoutMs`, as Kitex does.
 */
export function exponentialBackoff(options: ExponentialBackoffOptions = {}): BackoffFunc {
  return backoffAt(options, undefined);
}

/** {@link exponentialBackoff} of options written at `path` (such as `coolingBackoff`), which errors name. */
export function backoffAt(options: ExponentialBackoffOptions, path: string | undefined): BackoffFunc {
  const o = checkKeys(path ?? 'exponentialBackoff options', options, ['multiplier', 'maxMs', 'jitter'], path);
  const at = (name: string) => (path === undefined ? `exponentialBackoff ${name}` : `${path}.${name}`);
  const multiplier = o.multiplier === undefined ? 2 : checkNumber(at('multiplier'), o.multiplier, 1);
  const maxMs = o.maxMs === undefined ? 60_000 : checkNumber(at('maxMs'), o.maxMs, 0);
  const jitter = o.jitter === undefined ? 0.2 : checkNumber(at('jitter'), o.jitter, 0, 1);
  return (attempt, baseMs, random) => {
    const grown = baseMs * multiplier ** Math.min(attempt, 64);
    const spread = jitter === 0 ? 1 : 1 - jitter + 2 * jitter * random();
    return Math.min(maxMs, Math.max(baseMs, grown) * spread);
  };
}

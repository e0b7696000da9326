import { checkInteger, checkKeys, checkNumber } from '@cbsuite/core';

/** Options of a {@link RetryBudget} (Finagle's `RetryBudget(ttl, minRetriesPerSec, percentCanRetry)`). */
export interface RetryBudgetOptions {
  /** Retries allowed per logical call, over the window: 0.2 lets one call in five retry. Default 0.2, in [0, 1000]. */
  readonly percentCanRetry?: number;
  /** Retries allowed per second whatever the traffic (the reserve, for quiet clients). Default 10, an integer >= 0. */
  readonly minRetriesPerSec?: number;
  /** How long a deposit or a withdrawal counts. Default 10_000, in [1000, 60_000]. */
  readonly ttlMs?: number;
}

/** A budget's options, validated, with defaults applied. */
export interface ResolvedRetryBudget {
  readonly percentCanRetry: number;
  readonly minRetriesPerSec: number;
  readonly ttlMs: number;
}

/** Validates `retryBudget` options; errors name the field as `retryBudget.<field>`. */
export function resolveRetryBudget(value: unknown, path = 'retryBudget'): ResolvedRetryBudget {
  const o = checkKeys(path, value, ['percentCanRetry', 'minRetriesPerSec', 'ttlMs'], path);
  return {
    percentCanRetry:
      o.percentCanRetry === undefined ? 0.2 : checkNumber(`${path}.percentCanRetry`, o.percentCanRetry, 0, 1000),
    minRetriesPerSec:
      o.minRetriesPerSec === undefined ? 10 : checkInteger(`${path}.minRetriesPerSec`, o.minRetriesPerSec, 0),
    ttlMs: o.ttlMs === undefined ? 10_000 : checkInteger(`${path}.ttlMs`, o.ttlMs, 1000, 60_000),
  };
}

const SLICES = 10;

/**
 * Finagle's `RetryBudget`: every logical call deposits, every retry
 * withdraws, and a retry is allowed while
 * `minRetriesPerSec × ttl + percentCanRetry × calls − retries ≥ 1` over the
 * last `ttlMs`. Deposits and withdrawals expire together, in `10` slices of
 * `ttlMs / 10` aligned to the clock, rotated lazily when the budget is used:
 * no timer.
 */
export class RetryBudget {
  private readonly sliceMs: number;
  private readonly reserve: number;
  private readonly deposits = new Float64Array(SLICES);
  private readonly withdrawals = new Float64Array(SLICES);
  /** The slice number each ring slot holds. */
  private readonly epochs = new Float64Array(SLICES).fill(-1);

  constructor(
    private readonly o: ResolvedRetryBudget,
    private readonly now: () => number,
  ) {
    this.sliceMs = o.ttlMs / SLICES;
    this.reserve = o.minRetriesPerSec * (o.ttlMs / 1000);
  }

  /** A logical call starts. */
  deposit(): void {
    this.deposits[this.slot()]++;
  }

  /** Takes one retry from the budget; false (and nothing changes) when there is none left. */
  tryWithdraw(): boolean {
    const i = this.slot();
    // The epsilon forgives the rounding of percentCanRetry × calls (0.29 × 100 is 28.999…).
    if (this.balance() < 1 - 1e-9) return false;
    this.withdrawals[i]++;
    return true;
  }

  /**
   * Gives back a withdrawal whose retry was never sent (a hedge that found no
   * instance to go to): the latest one still in the window.
   */
  refund(): void {
    const now = this.slot();
    for (let k = 0; k < SLICES; k++) {
      const i = (now - k + SLICES) % SLICES;
      if ((this.withdrawals[i] as number) > 0) {
        this.withdrawals[i]--;
        return;
      }
    }
  }

  /** Retries the budget allows now. */
  balance(): number {
    this.slot();
    let deposits = 0;
    let withdrawals = 0;
    for (let i = 0; i < SLICES; i++) {
      deposits += this.deposits[i] as number;
      withdrawals += this.withdrawals[i] as number;
    }
    return this.reserve + deposits * this.o.percentCanRetry - withdrawals;
  }

  // The ring slot of the current slice, cleared of slices older than the window.
  private slot(): number {
    const epoch = Math.floor(this.now() / this.sliceMs);
    const i = ((epoch % SLICES) + SLICES) % SLICES;
    if (this.epochs[i] !== epoch) {
      for (let k = 0; k < SLICES; k++) {
        if ((this.epochs[k] as number) <= epoch - SLICES) {
          this.deposits[k] = 0;
          this.withdrawals[k] = 0;
        }
      }
      this.deposits[i] = 0;
      this.withdrawals[i] = 0;
      this.epochs[i] = epoch;
    }
    return i;
  }
}

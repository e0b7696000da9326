import type { Clock } from './clock.js';
import { type Metricer, rate } from './metricer.js';

/** The shape of a window, shared by every breaker of a panel. */
export interface WindowConfig {
  readonly bucketTimeMs: number;
  readonly bucketNums: number;
  /** Whether a fourth column counts slow calls. */
  readonly trackSlow: boolean;
  readonly now: Clock;
}

/** Outcomes of part of a window. */
export interface RecentCounts {
  successes: number;
  failures: number;
  timeouts: number;
  slowCalls: number;
}

const SUCCESS = 0;
const FAILURE = 1;
const TIMEOUT = 2;
const SLOW = 3;

/**
 * A ring of `bucketNums` buckets of `bucketTimeMs` each, with running totals.
 *
 * Buckets are aligned to the clock (`floor(now / bucketTimeMs)`), not to the
 * breaker's creation, and rotate lazily when the window is touched: the
 * buckets that fell out are subtracted from the totals and zeroed. There is
 * no timer. Reads are O(1); a rotation is O(buckets passed), at most
 * `bucketNums`.
 *
 * If the clock goes backwards, outcomes are recorded into the latest bucket.
 */
export class WindowMetricer implements Metricer {
  // Fields in the order a record reads them: with many breakers, each cache
  // line a record reaches is likely a miss.
  private bucketEnd = Number.NEGATIVE_INFINITY;
  private succ = 0;
  private fail = 0;
  private tout = 0;
  private conse = 0;
  // What was recorded in the latest bucket and is not in `counts` yet: a
  // record writes these fields only, next to the totals, and the bucket is
  // written once, when the window rotates. A record that wrote the bucket
  // reached two more cache lines (the array and its bucket).
  private headSucc = 0;
  private headFail = 0;
  private headTout = 0;
  private headSlow = 0;
  // Cumulative outcomes since the window was made: never rotated, never reset.
  private allSucc = 0;
  private allFail = 0;
  private allTout = 0;
  private slow = 0;
  private errStart = 0;
  private latest = 0;
  private epoch = Number.NEGATIVE_INFINITY;
  private readonly cfg: WindowConfig;
  private readonly cols: number;
  private readonly counts: Uint32Array;

  constructor(cfg: WindowConfig) {
    this.cfg = cfg;
    this.cols = cfg.trackSlow ? 4 : 3;
    this.counts = new Uint32Array(cfg.bucketNums * this.cols);
  }

  /** Records a success at `now`; ends the current run of errors. */
  recordSuccess(now: number, slow: boolean): void {
    if (now >= this.bucketEnd) this.rotate(now);
    this.headSucc++;
    this.succ++;
    this.allSucc++;
    if (slow) this.addSlow();
    this.conse = 0;
  }

  /** Records a failure at `now`. */
  recordFailure(now: number, slow: boolean): void {
    if (now >= this.bucketEnd) this.rotate(now);
    this.headFail++;
    this.fail++;
    this.allFail++;
    if (slow) this.addSlow();
    this.addError(now);
  }

  /** Records a timeout at `now`. */
  recordTimeout(now: number, slow: boolean): void {
    if (now >= this.bucketEnd) this.rotate(now);
    this.headTout++;
    this.tout++;
    this.allTout++;
    if (slow) this.addSlow();
    this.addError(now);
  }

  /** Empties the window and ends the current run of errors. */
  reset(): void {
    if (this.succ + this.fail + this.tout !== 0) this.counts.fill(0);
    this.succ = this.fail = this.tout = this.slow = 0;
    this.headSucc = this.headFail = this.headTout = this.headSlow = 0;
    this.conse = 0;
  }

  /** Outcomes recorded since the window was made (not windowed, not reset): for counters of metrics systems. */
  totals(): { successes: number; failures: number; timeouts: number } {
    return { successes: this.allSucc, failures: this.allFail, timeouts: this.allTout };
  }

  /**
   * Outcomes of the newest buckets covering the last `ms` (at least one
   * bucket, at most the window), rotated to `now`.
   */
  recent(now: number, ms: number): RecentCounts {
    this.rotate(now);
    this.settle();
    const { bucketTimeMs, bucketNums } = this.cfg;
    const k = Math.min(bucketNums, Math.max(1, Math.ceil(ms / bucketTimeMs)));
    const c = this.counts;
    const cols = this.cols;
    const out = { successes: 0, failures: 0, timeouts: 0, slowCalls: 0 };
    let idx = this.latest;
    for (let i = 0; i < k; i++) {
      const base = idx * cols;
      out.successes += c[base + SUCCESS] as number;
      out.failures += c[base + FAILURE] as number;
      out.timeouts += c[base + TIMEOUT] as number;
      if (cols > SLOW) out.slowCalls += c[base + SLOW] as number;
      idx = idx === 0 ? bucketNums - 1 : idx - 1;
    }
    return out;
  }

  /** True when the window holds no samples at `now`. */
  isEmptyAt(now: number): boolean {
    this.rotate(now);
    return this.succ + this.fail + this.tout === 0;
  }

  successes(): number {
    this.rotate(this.cfg.now());
    return this.succ;
  }
  failures(): number {
    this.rotate(this.cfg.now());
    return this.fail;
  }
  timeouts(): number {
    this.rotate(this.cfg.now());
    return this.tout;
  }
  slowCalls(): number {
    this.rotate(this.cfg.now());
    return this.slow;
  }
  samples(): number {
    this.rotate(this.cfg.now());
    return this.succ + this.fail + this.tout;
  }
  errorRate(): number {
    this.rotate(this.cfg.now());
    return rate(this.fail + this.tout, this.succ + this.fail + this.tout);
  }
  slowRate(): number {
    this.rotate(this.cfg.now());
    return rate(this.slow, this.succ + this.fail + this.tout);
  }
  conseErrors(): number {
    return this.conse;
  }
  conseTimeMs(): number {
    return this.conse === 0 ? 0 : Math.max(0, this.cfg.now() - this.errStart);
  }

  private addError(now: number): void {
    if (this.conse === 0) this.errStart = now;
    this.conse++;
  }

  private addSlow(): void {
    if (this.cols > SLOW) {
      this.headSlow++;
      this.slow++;
    }
  }

  // Writes the latest bucket's records into `counts`.
  private settle(): void {
    if (this.headSucc + this.headFail + this.headTout + this.headSlow === 0) return;
    const c = this.counts;
    const base = this.latest * this.cols;
    c[base + SUCCESS] += this.headSucc;
    c[base + FAILURE] += this.headFail;
    c[base + TIMEOUT] += this.headTout;
    if (this.cols > SLOW) c[base + SLOW] += this.headSlow;
    this.headSucc = this.headFail = this.headTout = this.headSlow = 0;
  }

  private rotate(now: number): void {
    if (now < this.bucketEnd) return;
    const { bucketTimeMs, bucketNums } = this.cfg;
    const epoch = Math.floor(now / bucketTimeMs);
    const passed = epoch - this.epoch;
    if (passed >= bucketNums) {
      if (this.succ + this.fail + this.tout !== 0) this.counts.fill(0);
      this.succ = this.fail = this.tout = this.slow = 0;
      this.headSucc = this.headFail = this.headTout = this.headSlow = 0;
    } else {
      this.settle();
      const c = this.counts;
      const cols = this.cols;
      let idx = this.latest;
      for (let k = 0; k < passed; k++) {
        idx = idx + 1 === bucketNums ? 0 : idx + 1;
        const base = idx * cols;
        this.succ -= c[base + SUCCESS];
        this.fail -= c[base + FAILURE];
        this.tout -= c[base + TIMEOUT];
        c[base + SUCCESS] = 0;
        c[base + FAILURE] = 0;
        c[base + TIMEOUT] = 0;
        if (cols > SLOW) {
          this.slow -= c[base + SLOW];
          c[base + SLOW] = 0;
        }
      }
      this.latest = idx;
    }
    this.epoch = epoch;
    this.bucketEnd = (epoch + 1) * bucketTimeMs;
  }
}

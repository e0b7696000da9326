/**
 * Two sums over a sliding window of `bucketNums` buckets of `bucketMs` each
 * (for example calls and their total latency, or requests and accepts). No
 * timers: buckets that fell out of the window are cleared when the ring is
 * next touched (O(`bucketNums`) once per bucket at most, whatever the gap).
 * Memory: two arrays of `bucketNums` numbers.
 */
export class BucketRing {
  private readonly a: Float64Array;
  private readonly b: Float64Array;
  /** The epoch (`floor(t / bucketMs)`) of the newest bucket written. */
  private epoch = Number.NEGATIVE_INFINITY;
  /** Its index in the arrays, and the time its bucket ends: until then, adding is two writes. */
  private cur = 0;
  private next = Number.NEGATIVE_INFINITY;
  /** Sums over the buckets in the window. */
  totalA = 0;
  totalB = 0;

  constructor(
    private readonly bucketMs: number,
    private readonly bucketNums: number,
  ) {
    this.a = new Float64Array(bucketNums);
    this.b = new Float64Array(bucketNums);
  }

  /** Moves the window to time `t` (ms), clearing the buckets that left it. */
  rotate(t: number): void {
    if (t < this.next) return;
    const e = Math.floor(t / this.bucketMs);
    if (e <= this.epoch) return;
    const n = this.bucketNums;
    if (e - this.epoch >= n) {
      this.a.fill(0);
      this.b.fill(0);
      this.totalA = 0;
      this.totalB = 0;
    } else {
      for (let i = this.epoch + 1; i <= e; i++) {
        const j = i % n;
        this.a[j] = 0;
        this.b[j] = 0;
      }
      // Summed afresh (once per bucket at most) rather than subtracted: fractional sums would drift.
      let sa = 0;
      let sb = 0;
      for (let j = 0; j < n; j++) {
        sa += this.a[j] as number;
        sb += this.b[j] as number;
      }
      this.totalA = sa;
      this.totalB = sb;
    }
    this.epoch = e;
    this.cur = e % n;
    this.next = (e + 1) * this.bucketMs;
  }

  /** Adds to the bucket of time `t` (after `rotate(t)`); a time before the newest bucket's counts in it. */
  add(t: number, da: number, db: number): void {
    if (t >= this.next) this.rotate(t);
    const j = this.cur;
    this.a[j] = (this.a[j] as number) + da;
    this.b[j] = (this.b[j] as number) + db;
    this.totalA += da;
    this.totalB += db;
  }

  /** The two sums over the newest `buckets` buckets up to time `t` (after `rotate(t)`). */
  recent(t: number, buckets: number): [number, number] {
    this.rotate(t);
    const e = Math.floor(t / this.bucketMs);
    let sa = 0;
    let sb = 0;
    for (let i = 0; i < Math.min(buckets, this.bucketNums); i++) {
      const j = (((e - i) % this.bucketNums) + this.bucketNums) % this.bucketNums;
      sa += this.a[j] as number;
      sb += this.b[j] as number;
    }
    return [sa, sb];
  }

  /** Whether the window holds nothing. */
  isEmpty(): boolean {
    return this.totalA === 0 && this.totalB === 0;
  }
}

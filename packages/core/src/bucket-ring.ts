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
  /** Sums over the buckets in the arrays. */
  private sumA = 0;
  private sumB = 0;
  /**
   * What was added to the newest bucket and is not in the arrays yet: adding
   * is then two field writes, and the arrays are written once per bucket.
   */
  private headA = 0;
  private headB = 0;

  constructor(
    private readonly bucketMs: number,
    private readonly bucketNums: number,
  ) {
    this.a = new Float64Array(bucketNums);
    this.b = new Float64Array(bucketNums);
  }

  /** The sums over the window. */
  get totalA(): number {
    return this.sumA + this.headA;
  }

  get totalB(): number {
    return this.sumB + this.headB;
  }

  /** Moves the window to time `t` (ms), clearing the buckets that left it. */
  rotate(t: number): void {
    if (t < this.next) return;
    const e = Math.floor(t / this.bucketMs);
    if (e <= this.epoch) return;
    this.settle();
    const n = this.bucketNums;
    if (e - this.epoch >= n) {
      this.a.fill(0);
      this.b.fill(0);
      this.sumA = 0;
      this.sumB = 0;
    } else {
      for (let i = this.epoch + 1; i <= e; i++) {
        const j = i % n;
        this.a[j] = 0;
        this.b[j] = 0;
      }
      // Summed afresh (once per bucket at most) rather than subtracted: fractional sums would drift.
      this.resum();
    }
    this.epoch = e;
    this.cur = e % n;
    this.next = (e + 1) * this.bucketMs;
  }

  /** Adds to the bucket of time `t` (after `rotate(t)`); a time before the newest bucket's counts in it. */
  add(t: number, da: number, db: number): void {
    if (t >= this.next) this.rotate(t);
    this.headA += da;
    this.headB += db;
  }

  /**
   * Makes this ring the bucket-by-bucket sum of `rings` (each of this ring's
   * `bucketMs` and `bucketNums`) at time `t`, every ring moved to `t` first.
   */
  setToSumOf(rings: readonly BucketRing[], t: number): void {
    this.rotate(t);
    this.a.fill(0);
    this.b.fill(0);
    this.headA = this.headB = 0;
    for (const r of rings) {
      r.rotate(t);
      r.settle();
      for (let j = 0; j < this.bucketNums; j++) {
        this.a[j] = (this.a[j] as number) + (r.a[j] as number);
        this.b[j] = (this.b[j] as number) + (r.b[j] as number);
      }
    }
    this.resum();
  }

  /** The two sums over the newest `buckets` buckets up to time `t` (after `rotate(t)`). */
  recent(t: number, buckets: number): [number, number] {
    this.rotate(t);
    this.settle();
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

  private resum(): void {
    let sa = 0;
    let sb = 0;
    for (let j = 0; j < this.bucketNums; j++) {
      sa += this.a[j] as number;
      sb += this.b[j] as number;
    }
    this.sumA = sa;
    this.sumB = sb;
  }

  // Moves the head into the newest bucket of the arrays.
  private settle(): void {
    if (this.headA === 0 && this.headB === 0) return;
    const j = this.cur;
    this.a[j] = (this.a[j] as number) + this.headA;
    this.b[j] = (this.b[j] as number) + this.headB;
    this.sumA += this.headA;
    this.sumB += this.headB;
    this.headA = this.headB = 0;
  }

  /** Whether the window holds nothing. */
  isEmpty(): boolean {
    return this.totalA === 0 && this.totalB === 0;
  }
}

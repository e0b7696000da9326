import { EventEmitter } from '@cbsuite/core';
import type { ResolvedOutlierDetection, ResolvedRule } from './outlier-options.js';

/** Which rule ejected an instance, or `expired` when an ejection ended. */
export type EjectionReason = 'successRate' | 'failurePercentage' | 'latency' | 'expired';

/** An instance was ejected, or came back. */
export interface EjectionChange {
  readonly address: string;
  readonly ejected: boolean;
  readonly reason: EjectionReason;
  /** For an ejection: how long it lasts, in ms. */
  readonly ejectionTimeMs: number;
  /** The instance's ejection count (grows on each ejection, decays by one per healthy interval). */
  readonly ejectionCount: number;
}

/** One instance's counts in the current interval and its ejection state. */
interface Endpoint {
  successes: number;
  failures: number;
  latencySumMs: number;
  latencies: number;
  /** Clock time the ejection ends; undefined when not ejected. */
  ejectedUntil: number | undefined;
  multiplier: number;
}

interface Sample {
  readonly address: string;
  readonly e: Endpoint;
  readonly volume: number;
}

/**
 * Outlier ejection at the instance level (gRFC A50, as grpc-js's
 * `outlier_detection` policy runs it), plus a latency rule. No timer: the
 * rules run when an attempt ends and `intervalMs` has passed since they last
 * ran, on the level's clock; an ejection ends at the first pick of its
 * instance after its time is up. Per-instance state lives here, in the
 * suite's instance level; the picker only asks `isEjected` and reports ends.
 */
export class OutlierEjection {
  private readonly endpoints = new Map<string, Endpoint>();
  private nextAt: number | undefined;
  private ejectedNow = 0;
  private ejectionsSoFar = 0;
  private readonly changes = new EventEmitter<[EjectionChange]>();
  /** Listens to ejections and returns. */
  readonly onChange = this.changes.event;

  constructor(
    readonly options: ResolvedOutlierDetection,
    private readonly now: () => number,
    private readonly random: () => number,
    /** How many instances are listed now (the base of `maxEjectionPercent`). */
    private readonly listed: () => number,
  ) {}

  /** Whether `address` is ejected now. An ejection whose time is up ends here. */
  isEjected(address: string): boolean {
    if (this.ejectedNow === 0) return false;
    const e = this.endpoints.get(address);
    if (e === undefined || e.ejectedUntil === undefined) return false;
    if (this.now() < e.ejectedUntil) return true;
    this.restore(address, e);
    return false;
  }

  /**
   * An attempt on `address` ended: `failed` undefined for an ignorable
   * outcome; `latencyMs` given when its time says how fast the instance is (a
   * success or a timeout, not a fast error). Runs the rules when due.
   */
  record(address: string, failed: boolean | undefined, latencyMs: number | undefined): void {
    let e = this.endpoints.get(address);
    if (e === undefined) {
      e = { successes: 0, failures: 0, latencySumMs: 0, latencies: 0, ejectedUntil: undefined, multiplier: 0 };
      this.endpoints.set(address, e);
    }
    if (failed === true) e.failures++;
    else if (failed === false) e.successes++;
    if (latencyMs !== undefined && failed !== undefined) {
      e.latencySumMs += latencyMs;
      e.latencies++;
    }
    const now = this.now();
    if (this.nextAt === undefined) this.nextAt = now + this.options.intervalMs;
    else if (now >= this.nextAt) this.evaluate(now);
  }

  /** Drops the state of an address no channel lists any more. */
  forget(address: string): void {
    const e = this.endpoints.get(address);
    if (e?.ejectedUntil !== undefined) this.ejectedNow--;
    this.endpoints.delete(address);
  }

  /** Addresses ejected now. */
  ejected(): string[] {
    const out: string[] = [];
    for (const [a, e] of this.endpoints) if (e.ejectedUntil !== undefined) out.push(a);
    return out;
  }

  /** Ejections so far. */
  get ejections(): number {
    return this.ejectionsSoFar;
  }

  /**
   * Runs the rules over the interval that ended (A50's order: success rate,
   * then failure percentage, then our latency rule), then starts a new
   * interval: counts reset, ejections whose time is up end, and the ejection
   * count of each instance not ejected decays by one.
   */
  evaluate(now: number): void {
    this.nextAt = now + this.options.intervalMs;
    const o = this.options;
    if (o.successRate !== undefined) this.successRate(o.successRate, now);
    if (o.failurePercentage !== undefined) this.failurePercentage(o.failurePercentage, now);
    if (o.latency !== undefined) this.latency(o.latency, now);
    for (const [address, e] of this.endpoints) {
      e.successes = e.failures = e.latencySumMs = e.latencies = 0;
      if (e.ejectedUntil === undefined) {
        if (e.multiplier > 0) e.multiplier--;
      } else if (now >= e.ejectedUntil) this.restore(address, e);
    }
  }

  private candidates(requestVolume: number, volumeOf: (e: Endpoint) => number): Sample[] {
    const out: Sample[] = [];
    for (const [address, e] of this.endpoints) {
      const volume = volumeOf(e);
      if (volume >= requestVolume) out.push({ address, e, volume });
    }
    return out;
  }

  private successRate(r: ResolvedRule, now: number): void {
    const c = this.candidates(r.requestVolume, (e) => e.successes + e.failures);
    if (c.length < r.minimumHosts) return;
    const rates = c.map((s) => s.e.successes / s.volume);
    const mean = rates.reduce((a, b) => a + b, 0) / rates.length;
    const variance = rates.reduce((a, x) => a + (x - mean) ** 2, 0) / rates.length;
    const required = mean - r.limit * Math.sqrt(variance);
    c.forEach((s, i) => {
      if ((rates[i] as number) < required) this.eject(s, r, 'successRate', now);
    });
  }

  private failurePercentage(r: ResolvedRule, now: number): void {
    const c = this.candidates(r.requestVolume, (e) => e.successes + e.failures);
    if (c.length < r.minimumHosts) return;
    for (const s of c) if ((100 * s.e.failures) / s.volume > r.limit) this.eject(s, r, 'failurePercentage', now);
  }

  // An instance whose mean latency is over `factor` × the candidates' median
  // (and over it by `minGapMs`) is ejected.
  private latency(r: ResolvedRule, now: number): void {
    const c = this.candidates(r.requestVolume, (e) => e.latencies);
    if (c.length < r.minimumHosts) return;
    const means = c.map((s) => s.e.latencySumMs / s.e.latencies);
    const median = medianOf(means);
    c.forEach((s, i) => {
      const mean = means[i] as number;
      if (mean > r.limit * median && mean - median >= r.minGapMs) this.eject(s, r, 'latency', now);
    });
  }

  private eject(s: Sample, r: ResolvedRule, reason: EjectionReason, now: number): void {
    const e = s.e;
    if (e.ejectedUntil !== undefined) return;
    const total = Math.max(this.listed(), this.endpoints.size);
    if ((100 * this.ejectedNow) / total >= this.options.maxEjectionPercent) return;
    if (this.random() * 100 >= r.enforcementPercentage) return;
    e.multiplier++;
    const o = this.options;
    const ms = Math.min(o.baseEjectionTimeMs * e.multiplier, o.maxEjectionTimeMs);
    e.ejectedUntil = now + ms;
    this.ejectedNow++;
    this.ejectionsSoFar++;
    this.changes.emit({
      address: s.address,
      ejected: true,
      reason,
      ejectionTimeMs: ms,
      ejectionCount: e.multiplier,
    });
  }

  private restore(address: string, e: Endpoint): void {
    e.ejectedUntil = undefined;
    this.ejectedNow--;
    this.changes.emit({ address, ejected: false, reason: 'expired', ejectionTimeMs: 0, ejectionCount: e.multiplier });
  }
}

function medianOf(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

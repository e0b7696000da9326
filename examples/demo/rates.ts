import { type Counters, ZERO } from '@cbsuite/testkit/node-stats.js';

const FIELDS = Object.keys(ZERO) as (keyof Counters)[];

/** `to - from`, field by field: the counts of the span between two cumulative readings. */
export function delta(from: Counters, to: Counters): Counters {
  const out: Record<string, number> = {};
  for (const f of FIELDS) out[f] = to[f] - from[f];
  return out as unknown as Counters;
}

/** The sum of several counts (for example the nodes of a fleet). */
export function sum(all: Iterable<Counters>): Counters {
  const out: Record<string, number> = { ...ZERO };
  for (const c of all) for (const f of FIELDS) out[f] = (out[f] ?? 0) + c[f];
  return out as unknown as Counters;
}

/** Calls that have ended, whichever way. */
export function ended(c: Counters): number {
  return c.ok + c.failed + c.rejectedService + c.rejectedInstance;
}

/** Calls a breaker rejected before they were sent. */
export function rejected(c: Counters): number {
  return c.rejectedService + c.rejectedInstance;
}

/** Share of the calls the service answered that failed; 0 when it answered none. */
export function serviceErrorRate(c: Counters): number {
  const answered = c.ok + c.failed;
  return answered === 0 ? 0 : c.failed / answered;
}

/** `n` events over `ms` milliseconds, per second. */
export function perSecond(n: number, ms: number): number {
  return ms <= 0 ? 0 : (n * 1000) / ms;
}

/**
 * Rates over the last `spanMs` of cumulative readings: push a reading at
 * each redraw, read the counts of the span that ends with the newest.
 */
export class RateMeter {
  private readings: { atMs: number; counters: Counters }[] = [];

  constructor(private readonly spanMs = 1000) {}

  push(atMs: number, counters: Counters): void {
    this.readings.push({ atMs, counters });
    // Keep the newest reading at least spanMs old, as the base of the span.
    while (this.readings.length > 1 && this.readings[1]!.atMs <= atMs - this.spanMs) this.readings.shift();
  }

  /** Counts and length of the span from the oldest kept reading to the newest. */
  recent(): { ms: number; counts: Counters } {
    const first = this.readings[0];
    const last = this.readings[this.readings.length - 1];
    if (first === undefined || last === undefined) return { ms: 0, counts: ZERO };
    return { ms: last.atMs - first.atMs, counts: delta(first.counters, last.counters) };
  }

  /** Calls started per second over the span. */
  callsPerSecond(): number {
    const { ms, counts } = this.recent();
    return perSecond(counts.calls, ms);
  }
}

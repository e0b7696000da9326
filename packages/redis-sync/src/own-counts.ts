import type { PendingCounts } from '@cbsuite/core';
import type { Tracked } from './context.js';

// A node's record of its own share of a key's fleet window, bucket by bucket
// as Redis applied it, so that it can tell the rest of the fleet's counts
// from the totals Redis returns. A ring of [epoch, s, f, t, slow] per bucket.

const COLS = 5;

/** Adds counts Redis applied in bucket `epoch` to `tr`'s own share. */
export function addOwn(tr: Tracked, epoch: number, d: PendingCounts): void {
  if (d.successes + d.failures + d.timeouts + d.slowCalls === 0) return;
  const n = tr.scope.buckets;
  let ring = tr.own;
  if (ring === undefined) {
    ring = new Float64Array(n * COLS);
    for (let i = 0; i < n; i++) ring[i * COLS] = -1;
    tr.own = ring;
  }
  const at = (epoch % n) * COLS;
  if (ring[at] !== epoch) {
    if ((ring[at] as number) > epoch) return; // older than what the slot holds now: already out of the window
    ring[at] = epoch;
    ring.fill(0, at + 1, at + COLS);
  }
  (ring[at + 1] as number) += d.successes;
  (ring[at + 2] as number) += d.failures;
  (ring[at + 3] as number) += d.timeouts;
  (ring[at + 4] as number) += d.slowCalls;
}

/** `tr`'s own counts in the fleet window ending at bucket `epoch`: [s, f, t, slow]. */
export function ownInWindow(tr: Tracked, epoch: number): [number, number, number, number] {
  const out: [number, number, number, number] = [0, 0, 0, 0];
  const ring = tr.own;
  if (ring === undefined) return out;
  const n = tr.scope.buckets;
  for (let i = 0; i < n; i++) {
    const e = ring[i * COLS] as number;
    if (e > epoch - n && e <= epoch) {
      out[0] += ring[i * COLS + 1] as number;
      out[1] += ring[i * COLS + 2] as number;
      out[2] += ring[i * COLS + 3] as number;
      out[3] += ring[i * COLS + 4] as number;
    }
  }
  return out;
}

import { type HalfOpen, halfOpenState } from './breaker-state.js';
import { NO_PERMIT, PERMIT, type Permit } from './permit.js';

// The probes of a HALF_OPEN breaker: each has a unique permit; with tracking
// on (a finite `halfOpenMaxProbes`, or `strictProbes`), the ones in flight
// are listed with their admission times, so that an outcome can be matched
// to its probe and a probe that never reports back is dropped.

let nextProbeId = 2;

/** How a breaker tracks its probes. */
export interface ProbeRules {
  readonly trackProbes: boolean;
  readonly strictProbes: boolean;
  readonly halfOpenProbeTimeoutMs: number;
  readonly halfOpenMaxProbes: number;
  readonly detectTimeoutMs: number;
}

/** A HALF_OPEN state whose first probe is admitted at `now`; its permit is `lastProbeId`. */
export function halfOpenWithProbe(attempt: number, fleet: boolean, now: number, rules: ProbeRules): HalfOpen {
  const h = halfOpenState(attempt, fleet);
  h.lastProbeAt = now;
  addProbe(h, now, rules);
  return h;
}

/**
 * A call in HALF_OPEN at `now`: a probe when the detect interval since the
 * last one has passed and fewer than `halfOpenMaxProbes` are in flight.
 */
export function admitProbe(h: HalfOpen, now: number, rules: ProbeRules): Permit {
  if (rules.trackProbes) expireProbes(h, now, rules);
  if (now < h.lastProbeAt + rules.detectTimeoutMs) return NO_PERMIT;
  if (h.probeIds.length >= rules.halfOpenMaxProbes) return NO_PERMIT;
  h.prevProbeAt = h.lastProbeAt;
  h.lastProbeAt = now;
  return addProbe(h, now, rules);
}

/** Admits one more probe at `now`; returns its permit. */
export function addProbe(h: HalfOpen, now: number, rules: ProbeRules): Permit {
  const id = nextProbeId++;
  if (nextProbeId >= Number.MAX_SAFE_INTEGER) nextProbeId = 2;
  h.lastProbeId = id;
  if (rules.trackProbes) {
    h.probeIds.push(id);
    h.probeAt.push(now);
  }
  return id;
}

/** Drops the tracked probes admitted `halfOpenProbeTimeoutMs` ago or more: they will not report back. */
export function expireProbes(h: HalfOpen, now: number, rules: ProbeRules): void {
  const cutoff = now - rules.halfOpenProbeTimeoutMs;
  let n = 0;
  while (n < h.probeAt.length && (h.probeAt[n] as number) <= cutoff) n++;
  if (n > 0) {
    h.probeIds.splice(0, n);
    h.probeAt.splice(0, n);
  }
}

/**
 * Whether an outcome in HALF_OPEN counts as a probe result, taking the probe
 * off the in-flight list. Untracked (Kitex): every outcome counts.
 */
export function takeProbe(h: HalfOpen, permit: Permit | undefined, rules: ProbeRules): boolean {
  if (!rules.trackProbes) return true;
  if (permit !== undefined && permit > PERMIT && removeProbe(h, permit)) return true;
  if (rules.strictProbes) return false;
  if (h.probeIds.length > 0) {
    h.probeIds.shift();
    h.probeAt.shift();
  }
  return true;
}

/**
 * A probe ends without a result: it is no longer in flight. With
 * `giveBackInterval` (the call never went out), the detect interval it took
 * is given back too; otherwise (its outcome was ignorable) it stays taken.
 */
export function endProbe(h: HalfOpen, permit: Permit, giveBackInterval: boolean, rules: ProbeRules): void {
  if (rules.trackProbes) removeProbe(h, permit);
  if (permit !== h.lastProbeId) return;
  if (giveBackInterval) h.lastProbeAt = h.prevProbeAt;
  h.lastProbeId = 0;
}

function removeProbe(h: HalfOpen, permit: Permit): boolean {
  const i = h.probeIds.indexOf(permit);
  if (i < 0) return false;
  h.probeIds.splice(i, 1);
  h.probeAt.splice(i, 1);
  return true;
}

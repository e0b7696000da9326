import type { Level, StateChange, WindowCounts } from '@cbsuite/testkit/node-stats.js';
import { pct, secs } from './format.js';

/** A breaker's change of state (testkit's StateChange), with its own window's counts at that moment. */
export type Transition = Pick<StateChange, 'level' | 'key' | 'from' | 'to' | 'cause' | 'conseErrors' | 'coolingMs'> &
  WindowCounts;

/** The transition of a client node's state change, its own window's counts. */
export function transitionOf(c: Omit<StateChange, 'at'>): Transition {
  const { level, key, from, to, cause, conseErrors, coolingMs } = c;
  return { level, key, from, to, cause, ...c.own, conseErrors, coolingMs };
}

/** What the narration needs besides the transition: the key's `errRate`, and HALFOPEN's one probe per `detectMs`. */
export type NarrationContext = Pick<StateChange, 'errRate'> & { readonly detectMs: number };

/** What an open breaker does to the calls, by level. */
export const WHILE_OPEN: Readonly<Record<Level, string>> = {
  service: 'calls are now rejected at once, without reaching the service',
  instance: 'picks skip it, so calls go to the other instances',
};

/** One line of plain English: what a breaker did and what it means for the calls. */
export function describeTransition(t: Transition, ctx: NarrationContext): string {
  const service = t.level === 'service';
  const name = `${t.level} breaker ${t.to} for ${t.key}`;
  const probeIn = `next probe in ${secs(t.coolingMs)}`;
  if (t.from === 'CLOSED' && t.to === 'OPEN') {
    const why = service
      ? `${pct(t.errorRate, 0)} of its last ${t.samples} calls failed (trips at ${pct(ctx.errRate, 0)})`
      : t.conseErrors >= 3
        ? `${t.conseErrors} attempts or connections in a row failed`
        : `${pct(t.errorRate, 0)} of its last ${t.samples} attempts failed`;
    return `${name}: ${why}; ${WHILE_OPEN[t.level]}; ${probeIn}`;
  }
  if (t.to === 'HALFOPEN') {
    return service
      ? `${name}: cooling is over; one probe call goes through every ${ctx.detectMs} ms, the others are still rejected`
      : `${name}: cooling is over; the next pick of it sends a probe call`;
  }
  if (t.from === 'HALFOPEN' && t.to === 'OPEN') return `${name} again: a probe failed; ${probeIn} (backoff)`;
  if (t.from === 'HALFOPEN' && t.to === 'CLOSED') {
    return service
      ? `${name}: probes succeeded; calls reach the service again (the window starts afresh)`
      : `${name}: probes succeeded; it is back in rotation`;
  }
  return `${name}: was ${t.from} (${t.cause})`;
}

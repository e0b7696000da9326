import { type Breaker, NO_PERMIT, PERMIT, type Permit } from '@cbsuite/core';
import { type experimental, Metadata, type StatusObject } from '@grpc/grpc-js';
import { newAttemptTransport, observeSubchannel } from './attempt-transport.js';
import type { CallState } from './call-registry.js';
import { circuitBreakStatus } from './circuit-break-error.js';
import type { InstanceLevel } from './instance-level.js';

type X = typeof experimental;

/**
 * Wraps the child's picker: asks each picked instance's breaker before
 * returning the pick. A tripped instance (or one this call already tried) is
 * skipped and the child asked again, up to `max(6, 2 × endpoints)` picks
 * (Kitex's resolve loop makes 6 and may pick a tried instance again). When
 * every candidate is tripped the call is dropped: it fails at once with
 * `UNAVAILABLE` and the instance marker, and grpc-js does not retry it.
 * An instance outlier ejection ejected is skipped like a tripped one. While
 * the level is in panic (`panicThreshold`), the child's pick is used even
 * when its breaker refuses (unless forced open), and recorded as usual; an
 * ejected instance stays skipped, since ejections are capped and cannot
 * empty the pool. With `healthCheck`, a half-open instance's probe
 * permit goes to a health check and the pick is skipped.
 */
export class BreakerPicker implements experimental.Picker {
  // grpc-js exports its enums through getters: read once, not per pick.
  private readonly complete: experimental.PickResultType;
  private readonly drop: experimental.PickResultType;
  private readonly picks: number;

  constructor(
    private readonly child: experimental.Picker,
    private readonly level: InstanceLevel,
    endpoints: number,
    x: X,
  ) {
    this.complete = x.PickResultType.COMPLETE;
    this.drop = x.PickResultType.DROP;
    this.picks = Math.max(6, 2 * endpoints);
  }

  pick(args: experimental.PickArgs): experimental.PickResult {
    const level = this.level;
    const breakers = level.level;
    // grpc-js picks again when a picked subchannel stopped being READY before
    // the attempt started: take() gives back the probe that pick took.
    const state = level.calls.take(args.metadata);
    let triedAgain: experimental.PickResult | undefined;
    for (let i = 0; i < this.picks; i++) {
      const r = this.child.pick(args);
      if (r.pickResultType !== this.complete || r.subchannel === null) return r;
      const addr = r.subchannel.getAddress();
      if (state?.tried.includes(addr)) {
        triedAgain ??= r;
        continue;
      }
      // Ejections are capped (maxEjectionPercent) and cannot empty the pool: panic does not override them.
      if (level.isEjected(addr)) continue;
      const breaker = breakers.breakerFor(addr);
      const permit = breaker === undefined ? PERMIT : breakers.admit(breaker);
      if (permit === PERMIT || (permit !== NO_PERMIT && !level.probedByHealth(addr, breaker, permit, r.subchannel)))
        return this.wrap(r, addr, breaker, permit, state);
      if (level.panic.inPanic && level.usableInPanic(breaker)) return this.wrap(r, addr, breaker, PERMIT, state);
    }
    // Every instance not yet tried is tripped: go back to one already tried, if it is allowed (never for a hedge).
    if (triedAgain?.subchannel && state?.hedge !== true) {
      const addr = triedAgain.subchannel.getAddress();
      if (!level.isEjected(addr)) {
        const breaker = breakers.breakerFor(addr);
        const p = breaker === undefined ? PERMIT : breakers.admit(breaker);
        if (p === PERMIT || (p !== NO_PERMIT && !level.probedByHealth(addr, breaker, p, triedAgain.subchannel)))
          return this.wrap(triedAgain, addr, breaker, p, state);
        if (level.panic.inPanic && level.usableInPanic(breaker))
          return this.wrap(triedAgain, addr, breaker, PERMIT, state);
      }
    }
    // A hedge with no instance left to go to is not a drop: the call's other attempts still run.
    if (state?.hedge !== true) level.dropped();
    return {
      pickResultType: this.drop,
      subchannel: null,
      status: circuitBreakStatus('instance', undefined) as StatusObject,
      onCallStarted: null,
      onCallEnded: null,
    };
  }

  private wrap(
    r: experimental.PickResult,
    addr: string,
    breaker: Breaker | undefined,
    permit: Permit,
    state: CallState | undefined,
  ): experimental.PickResult {
    const level = this.level;
    const clock = level.latencyClock;
    const pickedAt = clock === undefined ? 0 : clock();
    const probe = state?.pickedOn(addr, breaker, permit);
    const childStarted = r.onCallStarted;
    const childEnded = r.onCallEnded;
    // What the transport saw of the attempt: how its stream ended, and its
    // whole status (grpc-js ≤ 1.13 gives onCallEnded only the code).
    const t = state?.transport ?? newAttemptTransport();
    return {
      pickResultType: r.pickResultType,
      subchannel: r.subchannel === null ? null : observeSubchannel(r.subchannel, t),
      status: r.status,
      onCallStarted: () => {
        if (probe !== undefined) probe.started = true;
        t.started = true;
        childStarted?.();
      },
      onCallEnded: (code, details, metadata) => {
        const latency = clock === undefined ? undefined : clock() - pickedAt;
        let status: StatusObject;
        if (details !== undefined) status = { code, details, metadata };
        else if (t.status?.code === code) status = t.status;
        else status = { code, details: '', metadata: new Metadata() };
        level.recordAttempt(addr, breaker, permit, status, state, latency, t.end);
        childEnded?.(code, details, metadata);
      },
    };
  }
}

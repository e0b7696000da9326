import { type Breaker, NO_PERMIT, PERMIT, type Permit } from '@cbsuite/core';
import { type experimental, Metadata, type StatusObject } from '@grpc/grpc-js';
import { newAttemptTransport } from './attempt-transport.js';
import type { CallState } from './call-registry.js';
import { circuitBreakStatus } from './circuit-break-error.js';
import type { InstanceLevel } from './instance-level.js';
import { observeSubchannel } from './observed-subchannel.js';

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
      const picked = this.admit(r, r.subchannel, addr, state);
      if (picked !== undefined) return picked;
    }
    // Every instance not yet tried is tripped: go back to one already tried, if it is allowed (never for a hedge).
    if (triedAgain?.subchannel && state?.hedge !== true) {
      const sc = triedAgain.subchannel;
      const picked = this.admit(triedAgain, sc, sc.getAddress(), state);
      if (picked !== undefined) return picked;
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

  /**
   * The pick `r` of `addr`, wrapped, when the instance may take the call:
   * not ejected (ejections are capped by maxEjectionPercent and cannot empty
   * the pool, so panic does not override them), and its breaker gives a
   * permit a health check does not take, or the level is in panic. Else
   * undefined: the pick is skipped.
   */
  private admit(
    r: experimental.PickResult,
    subchannel: experimental.SubchannelInterface,
    addr: string,
    state: CallState | undefined,
  ): experimental.PickResult | undefined {
    const level = this.level;
    if (level.isEjected(addr)) return undefined;
    const breaker = level.level.breakerFor(addr);
    const permit = breaker === undefined ? PERMIT : level.level.admit(breaker);
    if (permit === PERMIT || (permit !== NO_PERMIT && !level.probedByHealth(addr, breaker, permit, subchannel)))
      return this.wrap(r, addr, breaker, permit, state);
    if (level.panic.inPanic && level.usableInPanic(breaker)) return this.wrap(r, addr, breaker, PERMIT, state);
    return undefined;
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

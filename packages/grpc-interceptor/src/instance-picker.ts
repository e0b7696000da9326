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
 * when its breaker refuses or it is ejected (unless forced open), and
 * recorded as usual. With `healthCheck`, a half-open instance's probe
 * permit goes to a health check and the pick is skipped.
 */
export class BreakerPicker implements experimental.Picker {
  constructor(
    private readonly child: experimental.Picker,
    private readonly level: InstanceLevel,
    private readonly endpoints: number,
    private readonly x: X,
  ) {}

  pick(args: experimental.PickArgs): experimental.PickResult {
    const level = this.level;
    // grpc-js picks again when a picked subchannel stopped being READY before
    // the attempt started: take() gives back the probe that pick took.
    const state = level.calls.take(args.metadata);
    const COMPLETE = this.x.PickResultType.COMPLETE;
    const picks = Math.max(6, 2 * this.endpoints);
    let triedAgain: experimental.PickResult | undefined;
    for (let i = 0; i < picks; i++) {
      const r = this.child.pick(args);
      if (r.pickResultType !== COMPLETE || r.subchannel === null) return r;
      const addr = r.subchannel.getAddress();
      if (state?.tried.includes(addr)) {
        triedAgain ??= r;
        continue;
      }
      if (level.isEjected(addr)) {
        const breaker = level.level.breakerFor(addr);
        if (level.panic.inPanic && level.usableInPanic(breaker)) return this.wrap(r, addr, breaker, PERMIT, state);
        continue;
      }
      const { breaker, permit } = level.admit(addr);
      if (permit === PERMIT || (permit !== NO_PERMIT && !level.probedByHealth(addr, breaker, permit, r.subchannel)))
        return this.wrap(r, addr, breaker, permit, state);
      if (level.panic.inPanic && level.usableInPanic(breaker)) return this.wrap(r, addr, breaker, PERMIT, state);
    }
    // Every instance not yet tried is tripped: go back to one already tried, if it is allowed.
    if (triedAgain?.subchannel) {
      const addr = triedAgain.subchannel.getAddress();
      let breaker: Breaker | undefined;
      if (level.isEjected(addr)) breaker = level.level.breakerFor(addr);
      else {
        const admitted = level.admit(addr);
        breaker = admitted.breaker;
        const p = admitted.permit;
        if (p === PERMIT || (p !== NO_PERMIT && !level.probedByHealth(addr, breaker, p, triedAgain.subchannel)))
          return this.wrap(triedAgain, addr, breaker, p, state);
      }
      if (level.panic.inPanic && level.usableInPanic(breaker))
        return this.wrap(triedAgain, addr, breaker, PERMIT, state);
    }
    level.dropped();
    return {
      pickResultType: this.x.PickResultType.DROP,
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

import { ManualClock } from '@cbsuite/testkit/manual-clock.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Breaker } from './breaker.js';
import { ErrorType } from './error-type.js';
import { NO_PERMIT, PERMIT, type Permit } from './permit.js';
import { type Mode, State } from './state.js';
import { rateTripFunc } from './trip-funcs.js';

// Property tests over random event sequences. The first compares the breaker
// with a plain reference model of gopkg's state machine (section A.3 of the
// Kitex notes); the others switch every addition on and check invariants.

const LEGAL = new Set([
  `${State.Closed}>${State.Open}`,
  `${State.Open}>${State.HalfOpen}`,
  `${State.HalfOpen}>${State.Open}`,
  `${State.HalfOpen}>${State.Closed}`,
]);
// Leaving or entering a forced mode, and reset(), may also go straight to CLOSED or OPEN.
const LEGAL_WITH_MODES = new Set([...LEGAL, `${State.Open}>${State.Closed}`, `${State.Closed}>${State.Open}`]);

type Op =
  | { op: 'advance'; ms: number }
  | { op: 'acquire' }
  | { op: 'succeed' }
  | { op: 'fail' }
  | { op: 'timeout' }
  | { op: 'ignorable' };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    op: fc.constant('advance' as const),
    ms: fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 6_000 })),
  }),
  fc.constant({ op: 'acquire' as const }),
  fc.constant({ op: 'succeed' as const }),
  fc.constant({ op: 'fail' as const }),
  fc.constant({ op: 'timeout' as const }),
  fc.constant({ op: 'ignorable' as const }),
);

/** gopkg's breaker, written as plainly as possible: an event log instead of buckets. */
class ReferenceBreaker {
  state: State = State.Closed;
  private openedAt = 0;
  private lastRetry = 0;
  private halfOpenSuccesses = 0;
  private log: { t: number; error: boolean }[] = [];
  constructor(
    private readonly clock: ManualClock,
    private readonly minSamples: number,
  ) {}
  private window() {
    const epoch = Math.floor(this.clock.t / 100);
    return this.log.filter((e) => Math.floor(e.t / 100) > epoch - 100);
  }
  counts(): [number, number] {
    const w = this.window();
    return [w.filter((e) => !e.error).length, w.filter((e) => e.error).length];
  }
  acquire(): boolean {
    const now = this.clock.t;
    if (this.state === State.Closed) return true;
    if (this.state === State.Open) {
      if (this.openedAt + 5000 > now) return false;
      this.state = State.HalfOpen;
      this.halfOpenSuccesses = 0;
      this.lastRetry = now;
      return true;
    }
    if (this.lastRetry + 200 > now) return false;
    this.lastRetry = now;
    return true;
  }
  succeed(): void {
    if (this.state === State.Closed) this.log.push({ t: this.clock.t, error: false });
    else if (this.state === State.HalfOpen && ++this.halfOpenSuccesses >= 2) {
      this.log = [];
      this.state = State.Closed;
    }
  }
  error(): void {
    this.log.push({ t: this.clock.t, error: true });
    if (this.state === State.HalfOpen) {
      this.state = State.Open;
      this.openedAt = this.clock.t;
    } else if (this.state === State.Closed) {
      const [s, e] = this.counts();
      if (s + e >= this.minSamples && e / (s + e) >= 0.5) {
        this.state = State.Open;
        this.openedAt = this.clock.t;
      }
    }
  }
}

describe('state machine properties', () => {
  it('follows the gopkg reference model step by step (defaults: Kitex mode)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.array(op, { maxLength: 300 }), (minSamples, ops) => {
        const clock = new ManualClock(0);
        const transitions: string[] = [];
        const b = new Breaker({ now: clock.now, shouldTrip: rateTripFunc(0.5, minSamples) }, (from, to) => {
          transitions.push(`${from}>${to}`);
        });
        const model = new ReferenceBreaker(clock, minSamples);
        let permit: Permit = NO_PERMIT;
        for (const o of ops) {
          if (o.op === 'advance') clock.advance(o.ms);
          else if (o.op === 'acquire') {
            permit = b.acquire();
            expect(permit !== NO_PERMIT).toBe(model.acquire());
          } else if (o.op === 'ignorable') {
            // Kitex's RecordStat does nothing for an ignorable outcome: the probe's interval stays taken.
            b.record(ErrorType.Ignorable, undefined, permit);
          } else if (o.op === 'succeed') {
            b.succeed();
            model.succeed();
          } else {
            b[o.op]();
            model.error();
          }
          expect(b.state()).toBe(model.state);
          const m = b.metricer();
          expect([m.successes(), m.failures() + m.timeouts()]).toEqual(model.counts());
        }
        for (const t of transitions) expect(LEGAL.has(t)).toBe(true);
      }),
      { numRuns: 400 },
    );
  });

  type RichOp =
    | Op
    | { op: 'succeedProbe' | 'failProbe' | 'releaseProbe'; which: number }
    | { op: 'slowSucceed'; latency: number }
    | { op: 'mode'; mode: Mode }
    | { op: 'reset' };

  const richOp: fc.Arbitrary<RichOp> = fc.oneof(
    { arbitrary: op, weight: 6 },
    {
      arbitrary: fc.record({
        op: fc.constantFrom('succeedProbe' as const, 'failProbe' as const, 'releaseProbe' as const),
        which: fc.nat(),
      }),
      weight: 3,
    },
    {
      arbitrary: fc.record({ op: fc.constant('slowSucceed' as const), latency: fc.integer({ min: 0, max: 500 }) }),
      weight: 1,
    },
    {
      arbitrary: fc.record({
        op: fc.constant('mode' as const),
        mode: fc.constantFrom<Mode>('normal', 'normal', 'forcedOpen', 'disabled', 'metricsOnly'),
      }),
      weight: 1,
    },
    { arbitrary: fc.constant({ op: 'reset' as const }), weight: 1 },
  );

  it('with every addition on: only legal transitions, counts never negative, permits well-formed', () => {
    fc.assert(
      fc.property(
        fc.record({
          strictProbes: fc.boolean(),
          halfOpenMaxProbes: fc.integer({ min: 1, max: 3 }),
          backoff: fc.boolean(),
          slow: fc.boolean(),
        }),
        fc.array(richOp, { maxLength: 300 }),
        (cfg, ops) => {
          const clock = new ManualClock(0);
          const transitions: string[] = [];
          const b = new Breaker(
            {
              now: clock.now,
              shouldTrip: rateTripFunc(0.5, 3),
              strictProbes: cfg.strictProbes,
              halfOpenMaxProbes: cfg.halfOpenMaxProbes,
              coolingBackoff: cfg.backoff ? { maxMs: 20_000 } : undefined,
              random: () => 0.5,
              slowCallDurationMs: cfg.slow ? 100 : undefined,
              halfOpenProbeTimeoutMs: 3_000,
            },
            (from, to) => transitions.push(`${from}>${to}`),
          );
          const held: Permit[] = [];
          for (const o of ops) {
            switch (o.op) {
              case 'advance':
                clock.advance(o.ms);
                break;
              case 'acquire': {
                const p = b.acquire();
                expect(Number.isInteger(p) && p >= NO_PERMIT).toBe(true);
                if (b.state() === State.Open) expect(p).toBe(NO_PERMIT);
                if (p > PERMIT) held.push(p);
                break;
              }
              case 'succeedProbe':
              case 'failProbe':
              case 'releaseProbe': {
                const p = held.splice(o.which % Math.max(1, held.length), 1)[0];
                if (o.op === 'succeedProbe') b.succeed(undefined, p);
                else if (o.op === 'failProbe') b.fail(undefined, p);
                else if (p !== undefined) b.release(p);
                break;
              }
              case 'ignorable': {
                const p = held.shift();
                if (p !== undefined) b.record(ErrorType.Ignorable, undefined, p);
                break;
              }
              case 'slowSucceed':
                b.succeed(o.latency);
                break;
              case 'mode':
                b.setMode(o.mode);
                break;
              case 'reset':
                b.reset();
                break;
              default:
                b[o.op]();
            }
            const m = b.metricer();
            expect(Math.min(m.successes(), m.failures(), m.timeouts(), m.slowCalls())).toBeGreaterThanOrEqual(0);
            expect(m.errorRate()).toBeGreaterThanOrEqual(0);
            expect(m.errorRate()).toBeLessThanOrEqual(1);
          }
          const allowed = ops.some((o) => o.op === 'mode' || o.op === 'reset') ? LEGAL_WITH_MODES : LEGAL;
          for (const t of transitions) expect(allowed.has(t)).toBe(true);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('never wedges: from any state, successful probes close the breaker once time passes', () => {
    fc.assert(
      fc.property(
        fc.record({
          strictProbes: fc.boolean(),
          halfOpenMaxProbes: fc.integer({ min: 1, max: 3 }),
          backoff: fc.boolean(),
        }),
        fc.array(op, { maxLength: 200 }),
        (cfg, ops) => {
          const clock = new ManualClock(0);
          const b = new Breaker({
            now: clock.now,
            shouldTrip: rateTripFunc(0.5, 3),
            strictProbes: cfg.strictProbes,
            halfOpenMaxProbes: cfg.halfOpenMaxProbes,
            coolingBackoff: cfg.backoff ? { maxMs: 20_000 } : undefined,
            halfOpenProbeTimeoutMs: 3_000,
          });
          for (const o of ops) {
            if (o.op === 'advance') clock.advance(o.ms);
            else if (o.op === 'acquire')
              b.acquire(); // permits dropped: probes that never report
            else if (o.op === 'ignorable') b.record(ErrorType.Ignorable);
            else b[o.op]();
          }
          // Recovery: every admitted call succeeds and reports with its permit.
          for (let step = 0; step < 100 && b.state() !== State.Closed; step++) {
            clock.advance(1_000);
            const p = b.acquire();
            if (p !== NO_PERMIT) b.succeed(undefined, p);
          }
          expect(b.state()).toBe(State.Closed);
        },
      ),
      { numRuns: 300 },
    );
  });
});

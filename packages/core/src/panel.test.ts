import { ManualClock } from '@cbsuite/testkit/manual-clock.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OptionRangeError, OptionTypeError } from './option-error.js';
import { Panel, type PanelOptions } from './panel.js';
import { PERMIT } from './permit.js';
import { State, stateName } from './state.js';
import { consecutiveTripFunc, type TripFunc, thresholdTripFunc } from './trip-funcs.js';

function setup(options: PanelOptions = {}) {
  const clock = new ManualClock();
  const events: string[] = [];
  const panel = new Panel({ now: clock.now, shouldTrip: thresholdTripFunc(2), ...options }, (key, from, to, m) => {
    events.push(`${key}: ${stateName(from)} -> ${stateName(to)} (f=${m.failures()})`);
  });
  return { clock, panel, events };
}

describe('Panel', () => {
  it('creates one breaker per key on first use and keeps keys apart', () => {
    const { panel, events } = setup();
    expect(panel.size).toBe(0);
    expect(panel.isAllowed('a')).toBe(true);
    panel.fail('a');
    panel.fail('a');
    panel.fail('b');
    expect(panel.isAllowed('a')).toBe(false);
    expect(panel.isAllowed('b')).toBe(true);
    expect(panel.size).toBe(2);
    expect(events).toEqual(['a: CLOSED -> OPEN (f=2)']);
  });

  it('resolves shouldTripWithKey on every failure, so a new config applies to the next failure', () => {
    let threshold = 5;
    const { panel } = setup({
      shouldTripWithKey: (key): TripFunc => consecutiveTripFunc(key === 'strict' ? 1 : threshold),
    });
    panel.fail('strict');
    expect(panel.isAllowed('strict')).toBe(false);
    panel.fail('k');
    panel.fail('k');
    expect(panel.isAllowed('k')).toBe(true);
    threshold = 3;
    panel.fail('k');
    expect(panel.isAllowed('k')).toBe(false);
  });

  it('failWithTrip and timeoutWithTrip use the given trip func', () => {
    const { panel } = setup({ shouldTrip: () => false });
    panel.timeoutWithTrip('k', consecutiveTripFunc(2));
    panel.failWithTrip('k', consecutiveTripFunc(2));
    expect(panel.breaker('k')?.state()).toBe(State.Open);
    const m = panel.getMetricer('k');
    expect([m.failures(), m.timeouts()]).toEqual([1, 1]);
  });

  it('getMetricer does not create a breaker for an unknown key', () => {
    const { panel } = setup();
    expect(panel.getMetricer('nope').samples()).toBe(0);
    expect(panel.size).toBe(0);
    expect(panel.breaker('nope')).toBeUndefined();
  });

  it('removeBreaker drops the state: the next use starts CLOSED and empty', () => {
    const { panel } = setup();
    panel.fail('k');
    panel.fail('k');
    panel.removeBreaker('k');
    panel.removeBreaker('never-there');
    expect(panel.isAllowed('k')).toBe(true);
    expect(panel.getMetricer('k').samples()).toBe(0);
  });

  it('never serves a dropped breaker from its last-key cache', () => {
    const { panel, clock } = setup({ maxKeys: 1 });
    panel.fail('a');
    panel.fail('a');
    expect(panel.isAllowed('a')).toBe(false);
    panel.removeBreaker('a');
    expect(panel.isAllowed('a')).toBe(true);
    clock.advance(20_000);
    panel.isAllowed('b'); // evicts a (CLOSED, empty)
    expect(panel.breaker('a')).toBeUndefined();
    expect(panel.getBreaker('a')).toBe(panel.breaker('a'));
    const held = panel.getBreaker('a');
    panel.close();
    expect(panel.getBreaker('a')).not.toBe(held);
  });

  it('dumpBreakers returns a snapshot of the map', () => {
    const { panel } = setup();
    panel.succeed('a');
    panel.fail('b');
    const dump = panel.dumpBreakers();
    panel.succeed('c');
    expect([...dump.keys()]).toEqual(['a', 'b']);
    expect(dump.get('b')?.metricer().failures()).toBe(1);
  });

  it('passes permits and latency through, and releases probes', () => {
    const { panel, clock } = setup({ halfOpenMaxProbes: 1, slowCallDurationMs: 100, shouldTrip: thresholdTripFunc(1) });
    panel.fail('k');
    clock.advance(5000);
    const p = panel.acquire('k');
    expect(p).toBeGreaterThan(PERMIT);
    expect(panel.acquire('k')).toBe(0);
    panel.release('k', p);
    const p2 = panel.acquire('k');
    panel.succeed('k', 10, p2);
    clock.advance(200);
    panel.succeed('k', 10, panel.acquire('k'));
    expect(panel.breaker('k')?.state()).toBe(State.Closed);
    panel.succeed('k', 150);
    expect(panel.getMetricer('k').slowCalls()).toBe(1);
  });

  it('sets a forced mode per key and resets one key', () => {
    const { panel } = setup();
    panel.setMode('a', 'forcedOpen');
    expect(panel.isAllowed('a')).toBe(false);
    expect(panel.isAllowed('b')).toBe(true);
    panel.fail('b');
    panel.fail('b');
    panel.reset('b');
    panel.reset('unknown');
    expect(panel.isAllowed('b')).toBe(true);
    expect(panel.size).toBe(2);
  });

  it('runs execute through the key breaker', async () => {
    const { panel } = setup();
    await expect(panel.execute('k', async () => 'ok')).resolves.toBe('ok');
    await panel.execute('k', async () => Promise.reject(new Error('x'))).catch(() => {});
    await panel.execute('k', async () => Promise.reject(new Error('x'))).catch(() => {});
    await expect(panel.execute('k', async () => 'ok')).rejects.toMatchObject({ key: 'k', state: State.Open });
  });

  it('rejects a key that is not a string with a TypeError naming it', () => {
    const { panel } = setup();
    expect(() => panel.isAllowed(42 as never)).toThrow(new OptionTypeError('key', 42, 'must be a string'));
    expect(() => panel.succeed(undefined as never)).toThrow('key must be a string, got undefined');
    expect(panel.size).toBe(0);
  });

  it('validates its options', () => {
    expect(() => new Panel({ maxKeys: 0 })).toThrow(new OptionRangeError('maxKeys', 0, 'must be an integer >= 1'));
    expect(() => new Panel({ maxKeys: 2.5 })).toThrow(RangeError);
    expect(() => new Panel({ maxKeys: '10' as never })).toThrow(TypeError);
    expect(() => new Panel({ bucketNums: 10 })).toThrow(/bucketNums must be an integer in \[100, 100000\], got 10/);
    expect(() => new Panel({ keys: 1 } as never)).toThrow(
      /^Panel options has an unknown field "keys"; known fields: bucketTimeMs, .*, maxKeys$/,
    );
    expect(() => new Panel({}, {} as never)).toThrow(new OptionTypeError('onStateChange', {}, 'must be a function'));
    expect(new Panel({ maxKeys: Number.POSITIVE_INFINITY }).size).toBe(0);
  });

  it('takes state-change listeners after construction, each removable, beside the constructor handler', () => {
    const errors: unknown[] = [];
    const { panel, events, clock } = setup({ onHandlerError: (err) => errors.push(err) });
    const late: string[] = [];
    const off = panel.onStateChange((key, from, to, _m, info) =>
      late.push(`${key}: ${stateName(from)} -> ${stateName(to)} (${info.cause})`),
    );
    const boom = new Error('listener failed');
    panel.onStateChange(() => {
      throw boom;
    });
    panel.fail('a');
    panel.fail('a');
    off();
    clock.advance(5000);
    panel.isAllowed('a');
    expect(events).toEqual(['a: CLOSED -> OPEN (f=2)', 'a: OPEN -> HALFOPEN (f=2)']);
    expect(late).toEqual(['a: CLOSED -> OPEN (trip)']);
    expect(errors).toEqual([boom, boom]);
  });

  it('after close() lets every call through, records nothing and holds nothing', async () => {
    const { panel } = setup();
    panel.fail('k');
    panel.fail('k');
    panel.close();
    panel.close();
    expect(panel.size).toBe(0);
    expect(panel.isAllowed('k')).toBe(true);
    panel.fail('k');
    panel.fail('k');
    expect(panel.isAllowed('k')).toBe(true);
    expect(panel.size).toBe(0);
    await expect(panel.execute('k', async () => 1)).resolves.toBe(1);
  });
});

describe('Panel maxKeys', () => {
  it('evicts the least recently used CLOSED breaker with an empty window', () => {
    const { panel, clock } = setup({ maxKeys: 3 });
    panel.succeed('a');
    panel.isAllowed('b');
    panel.isAllowed('c');
    clock.advance(20_000); // a's sample leaves the window
    panel.isAllowed('b'); // b and c are now more recent than a
    panel.isAllowed('c');
    panel.isAllowed('d');
    expect([...panel.dumpBreakers().keys()].sort()).toEqual(['b', 'c', 'd']);
    expect(panel.stats()).toEqual({ keys: 3, evictions: 1, evictionsWithSamples: 0, overflows: 0 });
  });

  it('prefers an empty window over recency, then falls back to the least recently used CLOSED one', () => {
    const { panel } = setup({ maxKeys: 2, shouldTrip: () => false });
    panel.succeed('a');
    panel.isAllowed('b');
    panel.isAllowed('c'); // a is older but has samples: b goes
    expect([...panel.dumpBreakers().keys()].sort()).toEqual(['a', 'c']);
    panel.succeed('c');
    panel.succeed('d'); // both have samples: the least recently used (a) goes
    expect([...panel.dumpBreakers().keys()].sort()).toEqual(['c', 'd']);
    expect(panel.stats()).toMatchObject({ evictions: 2, evictionsWithSamples: 1 });
  });

  it('never evicts an OPEN, HALF_OPEN or forced breaker; grows past the bound instead', () => {
    const { panel, clock } = setup({ maxKeys: 2, shouldTrip: thresholdTripFunc(1) });
    panel.fail('open');
    panel.fail('half');
    clock.advance(5000);
    panel.isAllowed('half');
    expect(panel.breaker('half')?.state()).toBe(State.HalfOpen);
    panel.isAllowed('x');
    expect(panel.stats()).toMatchObject({ keys: 3, overflows: 1 });
    panel.setMode('x', 'disabled');
    panel.isAllowed('y');
    expect(panel.breaker('open')?.state()).toBe(State.Open);
    expect(panel.breaker('half')?.state()).toBe(State.HalfOpen);
    expect(panel.breaker('x')?.mode()).toBe('disabled');
    expect(panel.stats()).toMatchObject({ keys: 4, overflows: 2 });
  });

  it('keeps the bound and never drops a non-CLOSED breaker, for any key sequence', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.record({ key: fc.integer({ min: 0, max: 20 }), fail: fc.boolean(), advance: fc.nat(3000) }), {
          maxLength: 200,
        }),
        (maxKeys, ops) => {
          const { panel, clock } = setup({ maxKeys, shouldTrip: thresholdTripFunc(2) });
          for (const o of ops) {
            clock.advance(o.advance);
            const key = `k${o.key}`;
            const before = new Map([...panel.dumpBreakers()].map(([k, b]) => [k, b.state()]));
            if (o.fail) panel.fail(key);
            else panel.isAllowed(key);
            const after = panel.dumpBreakers();
            for (const [k, state] of before) {
              if (state !== State.Closed) expect(after.has(k)).toBe(true);
            }
            const stuck = [...after.values()].filter((b) => b.state() !== State.Closed).length;
            expect(panel.size).toBeLessThanOrEqual(Math.max(maxKeys, stuck + 1));
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

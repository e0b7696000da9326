import {
  type Accepts,
  anyValue,
  BACKOFF_FIELDS,
  BREAKER_FIELDS,
  expectOptionError,
  isFunction,
  isInt,
  isNumber,
  isOneOf,
  PANEL_FIELDS,
  refusedBy,
  thrownBy,
} from '@cbsuite/testkit/bad-input.js';
import { ManualClock } from '@cbsuite/testkit/manual-clock.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { exponentialBackoff } from './backoff.js';
import { Breaker } from './breaker.js';
import { isOptionError, OptionRangeError, OptionTypeError } from './option-error.js';
import { Panel } from './panel.js';
import {
  anyTripFunc,
  consecutiveTripFunc,
  consecutiveTripFuncV2,
  rateTripFunc,
  slowRateTripFunc,
  thresholdTripFunc,
} from './trip-funcs.js';

// Every entry point of @cbsuite/core, every field: a bad value is refused
// with an OptionTypeError or OptionRangeError whose `option` is the path the
// user wrote and whose message shows the value as code writes it; `null` is
// a wrong type, never "not set".

type Row = [entry: string, path: string, value: unknown, run: (v: unknown) => unknown];
const rows: Row[] = [];
const add = (entry: string, path: string, accepts: Accepts, run: (v: unknown) => unknown) => {
  for (const [, v] of refusedBy(accepts)) rows.push([entry, path, v, run]);
};

for (const [field, accepts] of Object.entries(BREAKER_FIELDS)) {
  add('new Breaker', field, accepts, (v) => new Breaker({ [field]: v }));
}
for (const [field, accepts] of Object.entries(PANEL_FIELDS)) {
  add('new Panel', field, accepts, (v) => new Panel({ [field]: v }));
}
for (const [field, accepts] of Object.entries(BACKOFF_FIELDS)) {
  add('new Breaker', `coolingBackoff.${field}`, accepts, (v) => new Breaker({ coolingBackoff: { [field]: v } }));
  add('exponentialBackoff', `exponentialBackoff ${field}`, accepts, (v) => exponentialBackoff({ [field]: v }));
}
const isBackoff: Accepts = (v) =>
  typeof v === 'function' || typeof v === 'boolean' || (typeof v === 'object' && v !== null && !Array.isArray(v));
add('new Breaker', 'coolingBackoff', isBackoff, (v) => new Breaker({ coolingBackoff: v as never }));
add('new Breaker', 'onStateChange', isFunction, (v) => new Breaker({}, v as never));
add('new Panel', 'onStateChange', isFunction, (v) => new Panel({}, v as never));
add(
  'Panel.isAllowed',
  'key',
  (v) => typeof v === 'string',
  (v) => new Panel().isAllowed(v as never),
);
add('Breaker.setMode', 'mode', isOneOf('normal', 'disabled', 'metricsOnly', 'forcedOpen'), (v) =>
  new Breaker().setMode(v as never),
);
add('rateTripFunc', 'rateTripFunc rate', isNumber(0, 1), (v) => rateTripFunc(v as never, 1));
add('rateTripFunc', 'rateTripFunc minSamples', isInt(0, Number.MAX_SAFE_INTEGER), (v) => rateTripFunc(0.5, v as never));
add('thresholdTripFunc', 'thresholdTripFunc threshold', isInt(0, Number.MAX_SAFE_INTEGER), (v) =>
  thresholdTripFunc(v as never),
);
add('consecutiveTripFunc', 'consecutiveTripFunc threshold', isInt(0, Number.MAX_SAFE_INTEGER), (v) =>
  consecutiveTripFunc(v as never),
);
add('consecutiveTripFuncV2', 'consecutiveTripFuncV2 durationMs', isNumber(0, Number.MAX_VALUE), (v) =>
  consecutiveTripFuncV2(0.5, 1, v as never, 1, 1),
);
add('slowRateTripFunc', 'slowRateTripFunc rate', isNumber(0, 1), (v) => slowRateTripFunc(v as never, 1));
add('anyTripFunc', 'anyTripFunc argument 1', isFunction, (v) => anyTripFunc(() => false, v as never));

describe('@cbsuite/core refuses bad input with a typed error naming the field and the value', () => {
  it.each(rows)('%s: %s = %s', (_entry, path, value, run) => {
    expectOptionError(
      thrownBy(() => run(value)),
      path,
      value,
    );
  });

  it.each([
    ['new Breaker', () => new Breaker({ coolingTimeout: 5 } as never), 'coolingTimeout', 'Breaker options'],
    ['new Panel', () => new Panel({ maxKey: 5 } as never), 'maxKey', 'Panel options'],
    [
      'coolingBackoff',
      () => new Breaker({ coolingBackoff: { factor: 2 } as never }),
      'coolingBackoff.factor',
      'coolingBackoff',
    ],
    ['exponentialBackoff', () => exponentialBackoff({ base: 2 } as never), 'base', 'exponentialBackoff options'],
  ])('%s: an unknown field', (_entry, run, path, owner) => {
    const err = thrownBy(run);
    expect(err).toBeInstanceOf(OptionTypeError);
    expect(err).toMatchObject({ option: path });
    expect((err as Error).message).toMatch(
      new RegExp(`^${owner} has an unknown field "${path.split('.').at(-1)}"; known fields: `),
    );
  });

  it.each([
    ['new Breaker', () => new Breaker(null as never), 'Breaker options'],
    ['new Panel', () => new Panel(null as never), 'Panel options'],
    ['new Panel', () => new Panel(5n as never), 'Panel options'],
    ['exponentialBackoff', () => exponentialBackoff(null as never), 'exponentialBackoff options'],
  ])('%s: options that are not an object', (_entry, run, path) => {
    const err = thrownBy(run);
    expect(err).toBeInstanceOf(OptionTypeError);
    expect((err as Error).message).toMatch(new RegExp(`^${path} must be an object, got (null|5n)$`));
  });

  it('the errors are TypeError and RangeError, and their guard works across installed copies', () => {
    const type = thrownBy(() => new Breaker({ now: 5 as never }));
    const range = thrownBy(() => new Breaker({ bucketNums: 5 }));
    expect(type).toBeInstanceOf(TypeError);
    expect(range).toBeInstanceOf(RangeError);
    expect(range).toBeInstanceOf(OptionRangeError);
    expect(range).not.toBeInstanceOf(OptionTypeError);
    // What another copy of @cbsuite/core throws: a RangeError with the registered brand.
    const other = Object.defineProperty(new RangeError('x must be y, got 1'), Symbol.for('@cbsuite/core:OptionError'), {
      value: true,
    });
    expect(isOptionError(other)).toBe(true);
    expect(other).toBeInstanceOf(OptionRangeError);
  });
});

describe('properties over any value', () => {
  it('a Panel option is accepted exactly when valid, else refused naming it and the value', () => {
    fc.assert(
      fc.property(fc.constantFrom(...Object.keys(PANEL_FIELDS)), anyValue, (field, value) => {
        const accepts = PANEL_FIELDS[field] as Accepts;
        let err: unknown;
        try {
          new Panel({ [field]: value });
        } catch (e) {
          err = e;
        }
        if (value === undefined || accepts(value)) expect(err).toBeUndefined();
        else expectOptionError(err, field, value);
      }),
      { numRuns: 2000 },
    );
  });

  it('a refused setMode leaves the mode and the state as they were', () => {
    const clock = new ManualClock();
    fc.assert(
      fc.property(
        anyValue.filter((v) => !isOneOf('normal', 'disabled', 'metricsOnly', 'forcedOpen')(v)),
        (value) => {
          const b = new Breaker({ now: clock.now });
          b.setMode('metricsOnly');
          const err = thrownBy(() => b.setMode(value as never));
          expectOptionError(err, 'mode', value);
          expect(b.mode()).toBe('metricsOnly');
        },
      ),
      // Found by CI: an object that cannot become a property key made Object.hasOwn throw a TypeError of its own.
      { examples: [[{ toString: false }], [Object.create(null)]] },
    );
  });
});

import { show } from '@cbsuite/core';
import {
  type Accepts,
  anyValue,
  expectOptionError,
  isBoolean,
  isFunction,
  isInt,
  isNumber,
  isOneOf,
  isString,
  PANEL_FIELDS,
  refusedBy,
  thrownBy,
} from '@cbsuite/testkit/bad-input.js';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { isCBConfigError } from './cb-config.js';
import { CBSuite } from './cb-suite.js';
import type { CBSuiteOptions } from './suite-options.js';

// Every entry point of CBSuite, every field: a bad value is refused with a
// typed error (OptionTypeError / OptionRangeError, or CBConfigError for a
// config) naming the option by the path the user wrote and showing the value
// as code writes it; `null` is a wrong type, never "not set"; a refusal
// leaves the configs in force as they were.

const CB_FIELDS: Record<string, Accepts> = {
  enable: isBoolean,
  errRate: isNumber(0, 1),
  minSample: isInt(0, Number.MAX_SAFE_INTEGER),
};
const TIMING_FIELDS = Object.fromEntries(
  Object.entries(PANEL_FIELDS).filter(([k]) => k !== 'shouldTrip' && k !== 'shouldTripWithKey'),
);
const isObject: Accepts = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);

function expectCBConfigError(err: unknown, path: string, value: unknown): void {
  expect(isCBConfigError(err), String(err)).toBe(true);
  const e = err as { field: string; value: unknown; message: string };
  expect(e.field).toBe(path);
  expect(Object.is(e.value, value)).toBe(true);
  expect(e.message.startsWith(`${path} `)).toBe(true);
  expect(e.message).toContain(`got ${show(value)}`);
}

type Kind = 'option' | 'config';
type Row = [entry: string, path: string, value: unknown, kind: Kind, run: (v: unknown) => unknown];

const suites: CBSuite[] = [];
afterEach(() => {
  for (const s of suites.splice(0)) s.close();
});
const make = (options: CBSuiteOptions, genKey?: unknown) => {
  const cbs = new CBSuite(genKey as never, options);
  suites.push(cbs);
  return cbs;
};

const ctor: Row[] = [];
const add = (path: string, accepts: Accepts, kind: Kind, run: (v: unknown) => unknown) => {
  for (const [, v] of refusedBy(accepts)) ctor.push(['new CBSuite', path, v, kind, run]);
};
add('genServiceKey', isFunction, 'option', (v) => make({}, v));
add('fromService', isString, 'option', (v) => make({ fromService: v as never }));
for (const f of [
  'serviceGetErrorType',
  'wrappedServiceGetErrorType',
  'instanceGetErrorType',
  'wrappedInstanceGetErrorType',
  'serviceTripFunc',
  'instanceTripFunc',
  'idempotent',
]) {
  add(f, isFunction, 'option', (v) => make({ [f]: v }));
}
add('maxAttempts', isInt(1, 10), 'option', (v) => make({ maxAttempts: v as never }));
add('panicThreshold', isNumber(0, 1), 'option', (v) => make({ panicThreshold: v as never }));
add('eventQueueSize', isInt(0, 100_000), 'option', (v) => make({ eventQueueSize: v as never }));
add(
  'retryBudget',
  (v) => v === false || isObject(v),
  'option',
  (v) => make({ retryBudget: v as never }),
);
add('retryBudget.percentCanRetry', isNumber(0, 1000), 'option', (v) =>
  make({ retryBudget: { percentCanRetry: v as never } }),
);
add('retryBudget.minRetriesPerSec', isInt(0, Number.MAX_SAFE_INTEGER), 'option', (v) =>
  make({ retryBudget: { minRetriesPerSec: v as never } }),
);
add('retryBudget.ttlMs', isInt(1000, 60_000), 'option', (v) => make({ retryBudget: { ttlMs: v as never } }));
add('retryBackoff', isObject, 'option', (v) => make({ retryBackoff: v as never }));
add('retryBackoff.baseMs', isNumber(0, Number.MAX_VALUE), 'option', (v) =>
  make({ retryBackoff: { baseMs: v as never } }),
);
add('retryBackoff.maxMs', isNumber(10, Number.MAX_VALUE), 'option', (v) =>
  make({ retryBackoff: { baseMs: 10, maxMs: v as never } }),
);
add('retryBackoff.jitter', isNumber(0, 1), 'option', (v) => make({ retryBackoff: { baseMs: 10, jitter: v as never } }));
add(
  'retryStopErrRate',
  (v) => v === false || (isNumber(0, 1)(v) && v !== 0),
  'option',
  (v) => make({ retryStopErrRate: v as never }),
);
add('chainStop', isBoolean, 'option', (v) => make({ chainStop: v as never }));
add(
  'hedging',
  (v) => isObject(v) || typeof v === 'function',
  'option',
  (v) => make({ hedging: v as never }),
);
add('hedging.delayMs', isNumber(0, 2 ** 31 - 1), 'option', (v) => make({ hedging: { delayMs: v as never } }));
add('hedging.maxAttempts', isInt(2, 5), 'option', (v) => make({ hedging: { delayMs: 10, maxAttempts: v as never } }));
add('onMissingPolicy', isOneOf('fail', 'warn'), 'option', (v) => make({ onMissingPolicy: v as never }));
add('instanceFailureCodes', Array.isArray, 'option', (v) => make({ instanceFailureCodes: v as never }));
add('instanceFailureCodes[0]', isOneOf('UNAVAILABLE', 'RESOURCE_EXHAUSTED', 'DEADLINE_EXCEEDED'), 'option', (v) =>
  make({ instanceFailureCodes: [v] as never }),
);
add(
  'sync',
  () => false,
  'option',
  (v) => make({ sync: v as never }),
);
add('healthCheck', isObject, 'option', (v) => make({ healthCheck: v as never }));
add('healthCheck.service', isString, 'option', (v) => make({ healthCheck: { service: v as never } }));
add('healthCheck.timeoutMs', isNumber(1, 3_600_000), 'option', (v) =>
  make({ healthCheck: { service: '', timeoutMs: v as never } }),
);
add('outlierDetection', isObject, 'option', (v) => make({ outlierDetection: v as never }));
const OUTLIER_FIELDS: Record<string, Accepts> = {
  intervalMs: isNumber(1, 86_400_000),
  baseEjectionTimeMs: isNumber(1, 86_400_000),
  maxEjectionTimeMs: isNumber(1, 86_400_000),
  maxEjectionPercent: isNumber(0, 100),
};
for (const [f, accepts] of Object.entries(OUTLIER_FIELDS)) {
  add(`outlierDetection.${f}`, accepts, 'option', (v) => make({ outlierDetection: { [f]: v } }));
}
const RULE_FIELDS: Record<string, Record<string, Accepts>> = {
  successRateEjection: { stdevFactor: isNumber(0, 1000) },
  failurePercentageEjection: { threshold: isNumber(0, 100) },
  latencyEjection: { factor: isNumber(1, 1000), minGapMs: isNumber(0, 86_400_000) },
};
for (const [r, own] of Object.entries(RULE_FIELDS)) {
  add(`outlierDetection.${r}`, isObject, 'option', (v) => make({ outlierDetection: { [r]: v } }));
  const fields = {
    ...own,
    enforcementPercentage: isNumber(0, 100),
    minimumHosts: isInt(1, 100_000),
    requestVolume: isInt(1, 1_000_000_000),
  };
  for (const [f, accepts] of Object.entries(fields)) {
    add(`outlierDetection.${r}.${f}`, accepts, 'option', (v) => make({ outlierDetection: { [r]: { [f]: v } } }));
  }
}
for (const level of ['defaultServiceCBConfig', 'instanceCBConfig'] as const) {
  add(level, isObject, 'config', (v) => make({ [level]: v }));
  for (const [f, accepts] of Object.entries(CB_FIELDS)) {
    add(`${level}.${f}`, accepts, 'config', (v) => make({ [level]: { [f]: v } }));
  }
}
for (const level of ['serviceBreaker', 'instanceBreaker'] as const) {
  add(level, isObject, 'option', (v) => make({ [level]: v as never }));
  for (const [f, accepts] of Object.entries(TIMING_FIELDS)) {
    add(`${level}.${f}`, accepts, 'option', (v) => make({ [level]: { [f]: v } }));
  }
  add(`${level}.coolingBackoff.multiplier`, isNumber(1, Number.MAX_VALUE), 'option', (v) =>
    make({ [level]: { coolingBackoff: { multiplier: v } } }),
  );
}

describe('new CBSuite refuses bad options, naming the path written and the value', () => {
  it.each(ctor)('%s: %s = %s', (_entry, path, value, kind, run) => {
    const err = thrownBy(() => run(value));
    if (kind === 'config') expectCBConfigError(err, path, value);
    else expectOptionError(err, path, value);
  });

  it.each([
    [{ fromservice: 'x' }, 'fromservice', /^CBSuite options has an unknown field "fromservice"; known fields: /],
    [{ serviceBreaker: { cooling: 1 } }, 'serviceBreaker.cooling', /^serviceBreaker has an unknown field "cooling";/],
    [
      { outlierDetection: { latencyEjection: { stdevFactor: 1 } } },
      'outlierDetection.latencyEjection.stdevFactor',
      /^outlierDetection.latencyEjection has an unknown field "stdevFactor";/,
    ],
    [
      { instanceBreaker: { coolingBackoff: { factor: 2 } } },
      'instanceBreaker.coolingBackoff.factor',
      /^instanceBreaker.coolingBackoff has an unknown field "factor";/,
    ],
    [{ retryBudget: { ttl: 1 } }, 'retryBudget.ttl', /^retryBudget has an unknown field "ttl";/],
    [{ hedging: { delay: 1 } }, 'hedging.delay', /^hedging has an unknown field "delay";/],
    [
      { healthCheck: { service: '', timeout: 1 } },
      'healthCheck.timeout',
      /^healthCheck has an unknown field "timeout";/,
    ],
  ])('an unknown option %j', (options, path, message) => {
    const err = thrownBy(() => make(options as never));
    expect(err).toMatchObject({ option: path });
    expect((err as Error).message).toMatch(message);
  });

  it.each([
    [{ retryBackoff: {} }, 'retryBackoff.baseMs', undefined],
    [{ hedging: {} }, 'hedging.delayMs', undefined],
    [{ hedging: { maxAttempts: 3 } }, 'hedging.delayMs', undefined],
    [{ retryStopErrRate: 0 }, 'retryStopErrRate', 0],
    [{ healthCheck: {} }, 'healthCheck.service', undefined],
  ])('a required option left out, or out of range: %j', (options, path, value) => {
    expectOptionError(
      thrownBy(() => make(options as never)),
      path,
      value,
    );
  });

  it.each(['defaultServiceCBConfig', 'instanceCBConfig'])('an unknown field of %s', (level) => {
    const err = thrownBy(() => make({ [level]: { errrate: 0.5 } }));
    expectCBConfigError(err, `${level}.errrate`, 0.5);
  });

  it.each(['shouldTrip', 'shouldTripWithKey'])('serviceBreaker.%s: set by the suite from CBConfig', (f) => {
    const fn = () => true;
    const err = thrownBy(() => make({ serviceBreaker: { [f]: fn } as never }));
    expectOptionError(err, `serviceBreaker.${f}`, fn);
    expect((err as Error).message).toContain('use serviceTripFunc / instanceTripFunc');
  });

  it('options that are not an object', () => {
    expect(() => make(null as never)).toThrow('CBSuite options must be an object, got null');
    expect(() => make(5n as never)).toThrow('CBSuite options must be an object, got 5n');
  });
});

const KEY = 'checkout/echo.v1.Echo/Say';
const ADDR = '127.0.0.1:50051';
type Method = { name: string; call: (cbs: CBSuite, cfg: unknown) => void; read: (cbs: CBSuite) => unknown };
const METHODS: Method[] = [
  {
    name: 'updateServiceCBConfig',
    call: (c, cfg) => c.updateServiceCBConfig(KEY, cfg as never),
    read: (c) => c.serviceCBConfig(KEY),
  },
  {
    name: 'updateDefaultServiceCBConfig',
    call: (c, cfg) => c.updateDefaultServiceCBConfig(cfg as never),
    read: (c) => c.serviceCBConfig('other'),
  },
  {
    name: 'updateInstanceCBConfig',
    call: (c, cfg) => c.updateInstanceCBConfig(cfg as never),
    read: (c) => c.instanceCBConfig(),
  },
  {
    name: 'updateInstanceCBConfigFor',
    call: (c, cfg) => c.updateInstanceCBConfigFor(ADDR, cfg as never),
    read: (c) => c.instanceCBConfig(ADDR),
  },
];

function configured(): CBSuite {
  const cbs = make({ defaultServiceCBConfig: { errRate: 0.3 }, instanceCBConfig: { minSample: 10 } });
  cbs.updateServiceCBConfig(KEY, { minSample: 50 });
  cbs.updateInstanceCBConfigFor(ADDR, { errRate: 0.9 });
  return cbs;
}
const inForce = (cbs: CBSuite) => JSON.stringify(cbs.dump());

const methodRows: [string, string, unknown, (cbs: CBSuite, v: unknown) => void][] = [];
for (const m of METHODS) {
  for (const [, v] of refusedBy(isObject)) methodRows.push([m.name, 'config', v, (c, x) => m.call(c, x)]);
  for (const [f, accepts] of Object.entries(CB_FIELDS)) {
    for (const [, v] of refusedBy(accepts)) methodRows.push([m.name, f, v, (c, x) => m.call(c, { [f]: x })]);
  }
  methodRows.push([m.name, 'minsample', 5, (c, x) => m.call(c, { minsample: x })]);
}
for (const [, v] of refusedBy(isString)) {
  methodRows.push(['updateServiceCBConfig', 'key', v, (c, x) => c.updateServiceCBConfig(x as never, {})]);
  methodRows.push(['updateInstanceCBConfigFor', 'key', v, (c, x) => c.updateInstanceCBConfigFor(x as never, {})]);
}

describe('config updates refuse bad configs and change nothing', () => {
  it.each(methodRows)('%s: %s = %s', (_name, path, value, run) => {
    const cbs = configured();
    const before = inForce(cbs);
    const changes: unknown[] = [];
    cbs.onConfigChange((e) => changes.push(e));
    expectCBConfigError(
      thrownBy(() => run(cbs, value)),
      path,
      value,
    );
    expect(inForce(cbs)).toBe(before);
    expect(changes).toEqual([]);
  });

  it('property: any value for any field is applied exactly when valid, else refused with nothing changed', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...METHODS),
        fc.constantFrom(...Object.keys(CB_FIELDS)),
        anyValue,
        (m, field, value) => {
          const cbs = configured();
          const before = inForce(cbs);
          const prev = m.read(cbs) as Record<string, unknown>;
          let err: unknown;
          try {
            m.call(cbs, { [field]: value });
          } catch (e) {
            err = e;
          }
          if (value === undefined || (CB_FIELDS[field] as Accepts)(value)) {
            expect(err).toBeUndefined();
            expect(m.read(cbs)).toEqual({ ...prev, [field]: value ?? prev[field] });
          } else {
            expectCBConfigError(err, field, value);
            expect(inForce(cbs)).toBe(before);
          }
          cbs.close();
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe('channelOptions refuses bad input', () => {
  const rows: [string, unknown, (cbs: CBSuite, v: unknown) => unknown][] = [];
  const isChild: Accepts = (v) => isOneOf('round_robin', 'weighted_round_robin', 'pick_first')(v) || Array.isArray(v);
  for (const [, v] of refusedBy(isChild))
    rows.push(['childPolicy', v, (c, x) => c.channelOptions({ childPolicy: x as never })]);
  for (const [, v] of refusedBy(isObject))
    rows.push(['serviceConfig', v, (c, x) => c.channelOptions({ serviceConfig: x as never })]);
  for (const [, v] of refusedBy(() => false)) rows.push(['grpc', v, (c, x) => c.channelOptions({ grpc: x as never })]);
  it.each(rows)('%s = %s', (path, value, run) => {
    const cbs = make({});
    expectOptionError(
      thrownBy(() => run(cbs, value)),
      path,
      value,
    );
  });

  it('an unknown field, and input that is not an object', () => {
    const cbs = make({});
    expect(() => cbs.channelOptions({ child: 'x' } as never)).toThrow(
      /^channelOptions options has an unknown field "child"/,
    );
    expect(() => cbs.channelOptions(null as never)).toThrow('channelOptions options must be an object, got null');
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CBConfigError, DEFAULT_CB_CONFIG, getDefaultCBConfig, isCBConfigError, parseCBConfig } from './cb-config.js';

describe('CBConfig', () => {
  it('defaults to Kitex: enable, 50 %, 200 samples; getDefaultCBConfig returns a copy', () => {
    expect(DEFAULT_CB_CONFIG).toEqual({ enable: true, errRate: 0.5, minSample: 200 });
    const copy = getDefaultCBConfig();
    expect(copy).not.toBe(DEFAULT_CB_CONFIG);
    expect(Object.isFrozen(DEFAULT_CB_CONFIG)).toBe(true);
  });

  it('merges a partial config over the base and freezes it', () => {
    const c = parseCBConfig({ errRate: 0.3 }, { enable: false, errRate: 0.9, minSample: 5 });
    expect(c).toEqual({ enable: false, errRate: 0.3, minSample: 5 });
    expect(Object.isFrozen(c)).toBe(true);
    expect(parseCBConfig({ errRate: 0, minSample: 0 })).toEqual({ enable: true, errRate: 0, minSample: 0 });
    expect(parseCBConfig({ errRate: 1 })).toMatchObject({ errRate: 1 });
  });

  it('names the field and the value it got', () => {
    let e: unknown;
    try {
      parseCBConfig({ minSample: 1e20 });
    } catch (err) {
      e = err;
    }
    expect(e).toBeInstanceOf(CBConfigError);
    expect(e).toMatchObject({
      field: 'minSample',
      value: 1e20,
      message: 'minSample must be a non-negative integer, got 100000000000000000000',
    });
  });

  it('refuses anything that is not a valid config, and never throws anything else', () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        let result: unknown;
        try {
          result = parseCBConfig(value);
        } catch (err) {
          expect(isCBConfigError(err)).toBe(true);
          return;
        }
        const c = result as { enable: unknown; errRate: number; minSample: number };
        expect(typeof c.enable).toBe('boolean');
        expect(c.errRate >= 0 && c.errRate <= 1).toBe(true);
        expect(Number.isSafeInteger(c.minSample) && c.minSample >= 0).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('recognises a CBConfigError from another copy by its brand', () => {
    const foreign = Object.defineProperty(new Error('x'), Symbol.for('@cbsuite/grpc-interceptor:CBConfigError'), {
      value: true,
    });
    expect(isCBConfigError(foreign)).toBe(true);
    expect(isCBConfigError(new Error('x'))).toBe(false);
    expect(isCBConfigError(null)).toBe(false);
  });
});

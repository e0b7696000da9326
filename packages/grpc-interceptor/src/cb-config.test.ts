import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CBConfigError,
  DEFAULT_CB_CONFIG,
  getDefaultCBConfig,
  isCBConfigError,
  type KitexCBConfig,
  parseCBConfig,
} from './cb-config.js';
import { CBSuite } from './cb-suite.js';

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

  describe("Kitex's JSON field names", () => {
    const error = (value: unknown) => {
      try {
        parseCBConfig(value);
      } catch (err) {
        return err;
      }
      throw new Error('not refused');
    };

    it('reads enable, err_rate and min_sample, and mixes with ours, each field once', () => {
      expect(parseCBConfig({ enable: false, err_rate: 0.3, min_sample: 100 })).toEqual({
        enable: false,
        errRate: 0.3,
        minSample: 100,
      });
      expect(parseCBConfig({ errRate: 0.2, min_sample: 5 })).toEqual({ enable: true, errRate: 0.2, minSample: 5 });
      // Fields left out keep the base's value (Go's decoder would zero them).
      expect(parseCBConfig({ err_rate: 0.3 }, { enable: true, errRate: 0.9, minSample: 7 })).toEqual({
        enable: true,
        errRate: 0.3,
        minSample: 7,
      });
    });

    it('names the field as it was spelled, and refuses a field given twice or unknown', () => {
      expect(error({ err_rate: 2 })).toMatchObject({
        field: 'err_rate',
        value: 2,
        message: 'err_rate must be a number in [0, 1], got 2',
      });
      expect(error({ min_sample: -1 })).toMatchObject({
        field: 'min_sample',
        message: 'min_sample must be a non-negative integer, got -1',
      });
      expect(error({ errRate: 0.2, err_rate: 0.3 })).toMatchObject({
        field: 'err_rate',
        value: 0.3,
        message: 'err_rate sets errRate, which errRate sets already, got 0.3',
      });
      expect(error({ ErrRate: 0.3 })).toMatchObject({
        field: 'ErrRate',
        value: 0.3,
        message: 'ErrRate is not a CBConfig field (known: enable, errRate (err_rate), minSample (min_sample)), got 0.3',
      });
      expect(error(JSON.parse('{"__proto__": {"errRate": 0.1}}'))).toMatchObject({ field: '__proto__' });
      expect(error({ constructor: 1 })).toMatchObject({ field: 'constructor' });
      expect(error({ err_rate: 0.3, max_sample: 5 })).toBeInstanceOf(CBConfigError);
    });

    it('applies a config-center payload written for Kitex as is', () => {
      // What kitex-contrib's config centers publish under <client>.<server>.circuit_break: a CBConfig per method.
      const payload = '{"Say": {"enable": true, "err_rate": 0.3, "min_sample": 100}, "Count": {"enable": false}}';
      const cbs = new CBSuite(undefined, { fromService: 'checkout', instanceCBConfig: { err_rate: 0.2 } });
      for (const [method, cfg] of Object.entries(JSON.parse(payload) as Record<string, KitexCBConfig>)) {
        cbs.updateServiceCBConfig(`checkout/echo.v1.Echo/${method}`, cfg);
      }
      expect(cbs.serviceCBConfig('checkout/echo.v1.Echo/Say')).toEqual({ enable: true, errRate: 0.3, minSample: 100 });
      expect(cbs.serviceCBConfig('checkout/echo.v1.Echo/Count')).toEqual({ ...DEFAULT_CB_CONFIG, enable: false });
      expect(cbs.instanceCBConfig()).toEqual({ enable: true, errRate: 0.2, minSample: 200 });
      expect(() => cbs.updateServiceCBConfig('k', { min_sample: 1.5 })).toThrow(
        new CBConfigError('min_sample', 1.5, 'must be a non-negative integer'),
      );
      cbs.close();
    });

    it('refuses anything invalid under either name, and never throws anything else', () => {
      const field = fc.oneof(fc.anything(), fc.boolean(), fc.double(), fc.nat());
      const config = fc.record(
        { enable: field, errRate: field, err_rate: field, minSample: field, min_sample: field },
        { requiredKeys: [] },
      );
      fc.assert(
        fc.property(config, (value) => {
          let c: { enable: unknown; errRate: number; minSample: number };
          try {
            c = parseCBConfig(value);
          } catch (err) {
            expect(isCBConfigError(err)).toBe(true);
            return;
          }
          expect(typeof c.enable).toBe('boolean');
          expect(c.errRate >= 0 && c.errRate <= 1).toBe(true);
          expect(Number.isSafeInteger(c.minSample) && c.minSample >= 0).toBe(true);
        }),
        { numRuns: 2000 },
      );
    });
  });
});

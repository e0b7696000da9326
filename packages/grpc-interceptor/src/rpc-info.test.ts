import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseMethodPath, rpcInfo2Key, rpcInfoOf } from './rpc-info.js';

describe('method paths and keys', () => {
  it.each([
    ['/echo.v1.Echo/Say', 'echo.v1.Echo', 'Say'],
    ['/Svc/M', 'Svc', 'M'],
    ['', '', ''],
    ['/', '', '/'],
    ['//', '', '//'],
    ['/Svc', '', '/Svc'],
    ['/Svc/', '', '/Svc/'],
    ['//M', '', '//M'],
    ['Svc/M', '', 'Svc/M'],
    ['/a/b/c', '', '/a/b/c'],
    ['/ünï/çødé', 'ünï', 'çødé'],
  ])('parses %j as to=%j method=%j', (path, to, method) => {
    expect(parseMethodPath(path)).toEqual({ to, method });
  });

  it('makes Kitex keys: from/to/method', () => {
    expect(rpcInfo2Key(rpcInfoOf('checkout', '/echo.v1.Echo/Say'))).toBe('checkout/echo.v1.Echo/Say');
    expect(rpcInfo2Key(rpcInfoOf('', '/echo.v1.Echo/Say'))).toBe('/echo.v1.Echo/Say');
    expect(rpcInfo2Key(rpcInfoOf('checkout', 'weird'))).toBe('checkout//weird');
  });

  it('gives any string a stable key, and distinct paths distinct keys', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), (from, p1, p2) => {
        const k1 = rpcInfo2Key(rpcInfoOf(from, p1));
        expect(rpcInfo2Key(rpcInfoOf(from, p1))).toBe(k1);
        if (p1 !== p2) expect(rpcInfo2Key(rpcInfoOf(from, p2))).not.toBe(k1);
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips every well-formed path', () => {
    const segment = fc.string({ minLength: 1 }).filter((s) => !s.includes('/'));
    fc.assert(
      fc.property(segment, segment, (to, method) => {
        expect(parseMethodPath(`/${to}/${method}`)).toEqual({ to, method });
      }),
      { numRuns: 1000 },
    );
  });
});

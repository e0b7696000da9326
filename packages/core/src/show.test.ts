import { describe, expect, it } from 'vitest';
import { show } from './show.js';

describe('show: a value in an error message, as code would write it', () => {
  it.each([
    [5n, '5n'],
    [-12n, '-12n'],
    [Number.NaN, 'NaN'],
    [Number.POSITIVE_INFINITY, 'Infinity'],
    [Number.NEGATIVE_INFINITY, '-Infinity'],
    [-0, '-0'],
    [1e21, '1e+21'],
    [0.5, '0.5'],
    [null, 'null'],
    [undefined, 'undefined'],
    [true, 'true'],
    ['x', '"x"'],
    [Symbol('s'), 'Symbol(s)'],
    [() => 1, 'a function'],
    [{}, '{}'],
    [{ errRate: Number.NaN, minSample: 5n }, '{ errRate: NaN, minSample: 5n }'],
    [{ 'a-b': Number.NEGATIVE_INFINITY }, '{ "a-b": -Infinity }'],
    [[1, 'a', null], '[1, "a", null]'],
    [{ a: { b: { c: 1 } } }, '{ a: { b: {…} } }'],
    [new Map(), 'a Map'],
    [new Error('x'), 'an Error'],
    [Object.create(null), '{}'],
  ])('shows %s as %s', (value, shown) => {
    expect(show(value)).toBe(shown);
  });

  it('keeps messages short', () => {
    expect(show('x'.repeat(200))).toBe(`"${'x'.repeat(80)}…"`);
    expect(show(Array.from({ length: 20 }, (_, i) => i))).toBe('[0, 1, 2, 3, 4, 5, 6, 7, …]');
    const long = show({ a: 'y'.repeat(70), b: 'z'.repeat(70) });
    expect(long.length).toBe(81);
    expect(long.endsWith('…')).toBe(true);
  });

  it('never throws, whatever the value', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const hostile = {
      get boom() {
        throw new Error('getter');
      },
    };
    expect(show(cyclic)).toBe('{ self: { self: {…} } }');
    expect(show(hostile)).toBe('an object');
    expect(
      show(
        new Proxy(
          {},
          {
            ownKeys: () => {
              throw new Error('trap');
            },
          },
        ),
      ),
    ).toBe('an object');
  });
});

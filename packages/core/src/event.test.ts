import { describe, expect, it } from 'vitest';
import { EventEmitter } from './event.js';

describe('EventEmitter', () => {
  it('calls listeners in the order they were added, with every argument', () => {
    const e = new EventEmitter<[string, number]>();
    const seen: string[] = [];
    e.event((a, b) => seen.push(`first ${a} ${b}`));
    e.event((a, b) => seen.push(`second ${a} ${b}`));
    e.emit('x', 1);
    expect(seen).toEqual(['first x 1', 'second x 1']);
    expect(e.size).toBe(2);
  });

  it('a disposer removes its own listener once, even when the same function was added twice', () => {
    const e = new EventEmitter<[number]>();
    const seen: number[] = [];
    const l = (n: number) => seen.push(n);
    const off1 = e.event(l);
    e.event(l);
    off1();
    off1();
    e.emit(7);
    expect(seen).toEqual([7]);
    expect(e.size).toBe(1);
  });

  it('a throwing listener does not stop the others; its error goes to onListenerError', () => {
    const errors: unknown[] = [];
    const e = new EventEmitter<[]>((err) => errors.push(err));
    const boom = new Error('boom');
    let after = 0;
    e.event(() => {
      throw boom;
    });
    e.event(() => after++);
    e.emit();
    expect(errors).toEqual([boom]);
    expect(after).toBe(1);
  });

  it('a listener added or removed during emit applies from the next emit', () => {
    const e = new EventEmitter<[]>();
    const seen: string[] = [];
    let offB = () => {};
    e.event(() => {
      seen.push('a');
      e.event(() => seen.push('late'));
      offB();
    });
    offB = e.event(() => seen.push('b'));
    e.emit();
    expect(seen).toEqual(['a', 'b']);
    seen.length = 0;
    e.emit();
    expect(seen).toEqual(['a', 'late']);
  });

  it('refuses a listener that is not a function, naming what it got', () => {
    const e = new EventEmitter<[]>();
    expect(() => e.event(42 as unknown as () => void)).toThrow(
      new TypeError('listener must be a function, got number'),
    );
  });

  it('clear() removes every listener', () => {
    const e = new EventEmitter<[]>();
    let n = 0;
    e.event(() => n++);
    e.clear();
    e.emit();
    expect(n).toBe(0);
    expect(e.size).toBe(0);
  });
});

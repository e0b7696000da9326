import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MessageCodec, type StateMessage } from './messages.js';

const state: StateMessage = {
  v: 1,
  t: 'state',
  scope: 'service',
  key: 'checkout/echo.v1.Echo/Say',
  state: 'open',
  ts: 1_700_000_000_000,
  openedAt: 1_700_000_000_000,
  coolingMs: 5000,
  attempt: 0,
  node: 'n1',
};

describe('MessageCodec', () => {
  it('round-trips signed messages and refuses them with another secret or altered', () => {
    const a = new MessageCodec(Buffer.from('one'));
    const raw = a.encode(state);
    expect(a.decode(raw)).toMatchObject(state);
    expect(new MessageCodec(Buffer.from('two')).decode(raw)).toBe('forged');
    expect(a.decode(raw.replace('"open"', '"closed"'))).toBe('forged');
    expect(a.decode(JSON.stringify(state))).toBe('forged');
    expect(new MessageCodec(undefined).decode(raw)).toMatchObject(state);
  });

  it.each([
    ['a state with no key', { ...state, key: '' }],
    ['a cooling over a day', { ...state, coolingMs: 86_400_001 }],
    ['a negative attempt', { ...state, attempt: -1 }],
    ['a fractional time', { ...state, ts: 1.5 }],
    ['an unknown state', { ...state, state: 'ajar' }],
    ['an unknown version', { ...state, v: 2 }],
    ['a config with no value', { v: 1, t: 'config', scope: 's', key: '', ts: 1, node: 'n' }],
  ])('refuses %s', (_name, m) => {
    expect(new MessageCodec(undefined).decode(JSON.stringify(m))).toBe('garbage');
  });

  it('accepts a config under the empty key (a default)', () => {
    const m = { v: 1, t: 'config', scope: 'cb-service-default', key: '', value: { minSample: 5 }, ts: 1, node: 'n' };
    expect(new MessageCodec(undefined).decode(JSON.stringify(m))).toMatchObject(m);
  });

  it('never throws, whatever arrives from Redis', () => {
    const codec = new MessageCodec(Buffer.from('k'));
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), fc.anything()), (raw) => {
        const r = codec.decode(typeof raw === 'string' ? raw : (JSON.stringify(raw) ?? 'undefined'));
        expect(['garbage', 'forged', 'oversized'].includes(r as string) || typeof r === 'object').toBe(true);
      }),
      { numRuns: 3000 },
    );
    expect(codec.decode('x'.repeat(20_000))).toBe('oversized');
    expect(codec.decode(42 as never)).toBe('garbage');
  });
});

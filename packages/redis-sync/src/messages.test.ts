import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MessageCodec, type ModeMessage, type StateMessage } from './messages.js';

const state: StateMessage = {
  v: 2,
  t: 'state',
  scope: 'service',
  key: 'checkout/echo.v1.Echo/Say',
  state: 'open',
  ts: 1_700_000_000_000,
  until: 1_700_000_017_000,
  openedAt: 1_700_000_000_000,
  coolingMs: 5000,
  attempt: 0,
  node: 'n1',
};
const mode: ModeMessage = { v: 2, t: 'mode', scope: 'service', key: 'k', mode: 'forcedOpen', ver: 5, node: 'n1' };
const codec = (secret?: string) => new MessageCodec(secret === undefined ? undefined : Buffer.from(secret), 'ns');

describe('MessageCodec', () => {
  it('round-trips signed messages and refuses them with another secret or altered', () => {
    const a = codec('one');
    const raw = a.encode(state);
    expect(a.decode(raw)).toMatchObject(state);
    expect(codec('two').decode(raw)).toBe('forged');
    expect(a.decode(raw.replace('"open"', '"closed"'))).toBe('forged');
    expect(a.decode(raw.replace('1700000017000', '1800000017000'))).toBe('forged');
    expect(a.decode(JSON.stringify(state))).toBe('forged');
    expect(codec().decode(raw)).toMatchObject(state);
    const m = a.encode(mode);
    expect(a.decode(m)).toMatchObject(mode);
    expect(a.decode(m.replace('forcedOpen', 'disabled'))).toBe('forged');
  });

  it.each([
    ['a state with no key', { ...state, key: '' }],
    ['a state with no validity', { ...state, until: undefined }],
    ['a cooling over a day', { ...state, coolingMs: 86_400_001 }],
    ['a negative attempt', { ...state, attempt: -1 }],
    ['a fractional time', { ...state, ts: 1.5 }],
    ['an unknown state', { ...state, state: 'ajar' }],
    ['the first wire version', { ...state, v: 1 }],
    ['a config with no value', { v: 2, t: 'config', scope: 's', key: '', ver: 1, node: 'n' }],
    ['a config with no version', { v: 2, t: 'config', scope: 's', key: '', value: 1, node: 'n' }],
    ['a mode it does not know', { ...mode, mode: 'ajar' }],
    ['a mode with no key', { ...mode, key: '' }],
  ])('refuses %s', (_name, m) => {
    expect(codec().decode(JSON.stringify(m))).toBe('garbage');
  });

  it('accepts a config under the empty key (a default)', () => {
    const m = { v: 2, t: 'config', scope: 'cb-service-default', key: '', value: { minSample: 5 }, ver: 1, node: 'n' };
    expect(codec().decode(JSON.stringify(m))).toMatchObject(m);
  });

  it('signs short values for one namespace and one purpose', () => {
    const a = codec('k');
    const sig = a.sign('lease', 'svc', 'key', 'node:1');
    expect(sig).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(a.verify(sig, 'lease', 'svc', 'key', 'node:1')).toBe(true);
    expect(a.verify(sig, 'lease', 'svc', 'other', 'node:1')).toBe(false);
    expect(new MessageCodec(Buffer.from('k'), 'other-ns').verify(sig, 'lease', 'svc', 'key', 'node:1')).toBe(false);
    expect(a.verify('AAAA', 'lease', 'svc', 'key', 'node:1')).toBe(false);
    expect(codec().sign('x')).toBe('');
    expect(codec().verify('', 'x')).toBe(true);
  });

  it('never throws, whatever arrives from Redis', () => {
    const c = codec('k');
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), fc.anything()), (raw) => {
        const r = c.decode(typeof raw === 'string' ? raw : (JSON.stringify(raw) ?? 'undefined'));
        expect(['garbage', 'forged', 'oversized'].includes(r as string) || typeof r === 'object').toBe(true);
      }),
      { numRuns: 3000 },
    );
    expect(c.decode('x'.repeat(20_000))).toBe('oversized');
    expect(c.decode(42 as never)).toBe('garbage');
  });
});

import { describe, expect, it, vi } from 'vitest';
import { isMissingPeerError, loadPeer, MissingPeerError } from './missing-peer-error.js';

// The real loader, `require` from this package, finds prom-client; a missing peer is
// simulated by a loader that throws what Node's require throws.
vi.mock('./peer-require.cjs', () => ({
  peerRequire: (id: string) => {
    const err = Object.assign(new Error(`Cannot find module '${id}'\nRequire stack:\n- x.js`), {
      code: 'MODULE_NOT_FOUND',
    });
    throw err;
  },
}));

const { CBSuiteMetrics, RedisSyncMetrics } = await import('./prometheus.js');
const { CBSuiteOtelMetrics } = await import('./otel.js');

describe('a missing optional peer', () => {
  it('makes CBSuiteMetrics and RedisSyncMetrics throw a MissingPeerError naming prom-client and how to install it', () => {
    for (const make of [() => new CBSuiteMetrics(), () => new RedisSyncMetrics()]) {
      let caught: unknown;
      try {
        make();
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(MissingPeerError);
      expect(isMissingPeerError(caught)).toBe(true);
      expect(caught).toMatchObject({
        name: 'MissingPeerError',
        code: 'CBSUITE_MISSING_PEER',
        peer: 'prom-client',
        range: '>=15 <16',
        entry: '@cbsuite/grpc-interceptor/prometheus',
      });
      expect((caught as Error).message).toBe(
        '@cbsuite/grpc-interceptor/prometheus needs the optional peer dependency prom-client (>=15 <16), which is ' +
          'not installed. Install it next to @cbsuite/grpc-interceptor: npm install prom-client (or pnpm add ' +
          'prom-client, yarn add prom-client).',
      );
      expect(((caught as Error).cause as { code: string }).code).toBe('MODULE_NOT_FOUND');
    }
  });

  it('makes the OpenTelemetry metrics throw one naming @opentelemetry/api', () => {
    expect(() => new CBSuiteOtelMetrics()).toThrow(
      expect.objectContaining({ peer: '@opentelemetry/api', entry: '@cbsuite/grpc-interceptor/otel' }),
    );
  });
});

describe('loadPeer', () => {
  it('returns what the loader gives', () => {
    const mod = { ok: true };
    expect(loadPeer('x', '1', 'e', () => mod)).toBe(mod);
  });

  it('passes on a failure that is not the peer missing: a broken install stays visible', () => {
    const inner = Object.assign(new Error("Cannot find module 'tdigest'"), { code: 'MODULE_NOT_FOUND' });
    expect(() =>
      loadPeer('prom-client', '1', 'e', () => {
        throw inner;
      }),
    ).toThrow(inner);
    const other = new SyntaxError('Unexpected token');
    expect(() =>
      loadPeer('prom-client', '1', 'e', () => {
        throw other;
      }),
    ).toThrow(other);
  });

  it('tells a MissingPeerError from other errors', () => {
    expect(isMissingPeerError(new MissingPeerError('p', '1', 'e'))).toBe(true);
    expect(isMissingPeerError(new Error('x'))).toBe(false);
    expect(isMissingPeerError(null)).toBe(false);
  });
});

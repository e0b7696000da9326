import { grpc } from '@cbsuite/testkit/echo.js';
import { afterEach, describe, expect, it } from 'vitest';
import { CBSuite } from './cb-suite.js';
import { isCircuitBreakError } from './circuit-break-error.js';

// stats().service.rejections counts rejections per key for the keys the
// service panel holds: a key the panel evicts (maxKeys) or removes takes its
// count with it, so the map is bounded like the panel.

const cleanups: (() => unknown)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

/** A unary call to `path`; a rejected call never leaves the process, so no server is needed. */
function call(client: grpc.Client, path: string): Promise<grpc.ServiceError | null> {
  const id = (x: Buffer) => x;
  return new Promise((resolve) => {
    client.makeUnaryRequest(path, id, id, Buffer.alloc(0), (err) => resolve(err));
  });
}

function setup(maxKeys: number) {
  const cbs = new CBSuite(undefined, { fromService: 'f', serviceBreaker: { maxKeys } });
  const client = new grpc.Client('127.0.0.1:1', grpc.credentials.createInsecure(), {
    interceptors: [cbs.interceptor()],
  });
  cleanups.push(
    () => cbs.close(),
    () => client.close(),
  );
  return { cbs, client };
}

describe('stats().service.rejections', () => {
  it('is bounded by the panel: keys evicted for maxKeys drop their entry', async () => {
    const { cbs, client } = setup(50);
    for (let i = 0; i < 300; i++) {
      const key = `f/a.B/M${i}`;
      cbs.servicePanel.setMode(key, 'forcedOpen');
      expect(isCircuitBreakError(await call(client, `/a.B/M${i}`))).toBe(true);
      cbs.servicePanel.setMode(key, 'normal'); // CLOSED again, so the panel may evict it
    }
    const { rejections } = cbs.stats().service;
    expect(cbs.servicePanel.size).toBe(50);
    expect(rejections.size).toBe(50);
    expect([...rejections.keys()]).toEqual(Array.from({ length: 50 }, (_, i) => `f/a.B/M${250 + i}`));
    expect([...rejections.values()].every((n) => n === 1)).toBe(true);
  });

  it('counts each key until its breaker is removed', async () => {
    const { cbs, client } = setup(10);
    cbs.servicePanel.setMode('f/a.B/X', 'forcedOpen');
    for (let i = 0; i < 3; i++) await call(client, '/a.B/X');
    expect(cbs.stats().service.rejections).toEqual(new Map([['f/a.B/X', 3]]));
    cbs.servicePanel.removeBreaker('f/a.B/X');
    expect(cbs.stats().service.rejections).toEqual(new Map());
  });
});

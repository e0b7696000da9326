import { ErrorType, isOptionError } from '@cbsuite/core';
import { EchoClient, grpc, say, startEchoServer } from '@cbsuite/testkit/echo.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CallObserver } from './call-observer.js';
import { CBSuite } from './cb-suite.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  vi.restoreAllMocks();
});

async function setup() {
  const server = await startEchoServer((_m, text) => (text === 'fail' ? { code: grpc.status.INTERNAL } : undefined));
  const cbs = new CBSuite(undefined, { fromService: 'shop' });
  const client = new EchoClient(server.address, grpc.credentials.createInsecure(), {
    interceptors: [cbs.interceptor()],
  });
  cleanups.push(
    () => server.close(),
    () => client.close(),
    () => cbs.close(),
  );
  return { cbs, client };
}

const KEY = 'shop/echo.v1.Echo/Say';

describe('CBSuite.observeCalls', () => {
  it('tells every observer of rejections, and of how the calls let through ended', async () => {
    const { cbs, client } = await setup();
    const log: string[] = [];
    const observer = (name: string): CallObserver => ({
      rejected: (key, ri) => log.push(`${name} rejected ${key} ${ri.method}`),
      started: (key) => {
        log.push(`${name} started ${key}`);
        return { ended: (status, outcome) => log.push(`${name} ended ${status.code} ${outcome}`) };
      },
    });
    const stopA = cbs.observeCalls(observer('a'));
    cbs.observeCalls(observer('b'));
    await say(client, 'ok');
    await say(client, 'fail');
    cbs.servicePanel.setMode(KEY, 'forcedOpen');
    await say(client, 'x');
    stopA();
    await say(client, 'x');
    expect(log).toEqual([
      `a started ${KEY}`,
      `b started ${KEY}`,
      `a ended 0 ${ErrorType.Success}`,
      `b ended 0 ${ErrorType.Success}`,
      `a started ${KEY}`,
      `b started ${KEY}`,
      `a ended ${grpc.status.INTERNAL} ${ErrorType.Failure}`,
      `b ended ${grpc.status.INTERNAL} ${ErrorType.Failure}`,
      `a rejected ${KEY} Say`,
      `b rejected ${KEY} Say`,
      `b rejected ${KEY} Say`,
    ]);
  });

  it('reports an undefined outcome when the classifier fails', async () => {
    const server = await startEchoServer();
    const cbs = new CBSuite(undefined, {
      serviceGetErrorType: () => {
        throw new Error('classifier bug');
      },
    });
    cbs.onFault(() => {});
    const client = new EchoClient(server.address, grpc.credentials.createInsecure(), {
      interceptors: [cbs.interceptor()],
    });
    cleanups.push(
      () => server.close(),
      () => client.close(),
      () => cbs.close(),
    );
    const outcomes: unknown[] = [];
    cbs.observeCalls({ started: () => ({ ended: (_s, outcome) => outcomes.push(outcome) }) });
    await say(client, 'x');
    expect(outcomes).toEqual([undefined]);
  });

  it('keeps a throwing observer away from the call and warns once', async () => {
    const { cbs, client } = await setup();
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const ended: number[] = [];
    cbs.observeCalls({
      started: () => {
        throw new Error('observer bug');
      },
    });
    cbs.observeCalls({ started: () => ({ ended: (s) => ended.push(s.code) }) });
    expect((await say(client, 'x')).error).toBeUndefined();
    expect((await say(client, 'x')).error).toBeUndefined();
    expect(ended).toEqual([0, 0]);
    expect(warn.mock.calls).toEqual([['cbsuite (call observer): observer bug', { code: 'CBSUITE_OBSERVER' }]]);
  });

  it('refuses what is not an observer, naming the field', () => {
    const cbs = new CBSuite();
    const bad: [unknown, string, unknown][] = [
      [null, 'observer', null],
      [{ started: 1 }, 'observer.started', 1],
      [{ rejected: 'x' }, 'observer.rejected', 'x'],
      [{ ended: () => {} }, 'ended', undefined],
    ];
    for (const [value, option] of bad) {
      let caught: unknown;
      try {
        cbs.observeCalls(value as CallObserver);
      } catch (err) {
        caught = err;
      }
      expect(isOptionError(caught), option).toBe(true);
      expect((caught as { option: string }).option).toBe(option);
    }
  });
});

import { isOptionError, State } from '@cbsuite/core';
import { EchoClient, grpc, ipv4Target, say, startEchoServer } from '@cbsuite/testkit/echo.js';
import { ManualClock } from '@cbsuite/testkit/manual-clock.js';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CBSuite } from './cb-suite.js';
import { circuitBreakLevel } from './circuit-break-error.js';
import { traceSuite } from './otel.js';
import type { CBSuiteOptions } from './suite-options.js';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const contextManager = new AsyncLocalStorageContextManager();
const tracer = () => trace.getTracer('test');

beforeAll(() => {
  context.setGlobalContextManager(contextManager.enable());
  trace.setGlobalTracerProvider(provider);
});
afterAll(async () => {
  await provider.shutdown();
  trace.disable();
  context.disable();
});

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  exporter.reset();
});

async function setup(options: CBSuiteOptions = {}, withInstances = false) {
  const clock = new ManualClock();
  const servers = [await startEchoServer(), await startEchoServer()];
  const cbs = new CBSuite(undefined, {
    fromService: 'shop',
    ...options,
    serviceBreaker: { now: clock.now, ...options.serviceBreaker },
  });
  const client = new EchoClient(ipv4Target(servers), grpc.credentials.createInsecure(), {
    ...(withInstances ? cbs.channelOptions() : {}),
    interceptors: [cbs.interceptor()],
  });
  cleanups.push(
    () => Promise.all(servers.map((s) => s.close())),
    () => client.close(),
    () => cbs.close(),
  );
  const stop = traceSuite(cbs);
  cleanups.push(stop);
  return { clock, servers, cbs, client, stop };
}

/** Makes a call inside a span of its own; returns the call's result and the ended span. */
async function inSpan(client: EchoClient) {
  const result = await tracer().startActiveSpan('checkout', async (span) => {
    try {
      return await say(client, 'x');
    } finally {
      span.end();
    }
  });
  const spans = exporter.getFinishedSpans();
  const span = spans.at(-1);
  if (span === undefined) throw new Error('no span ended');
  const events = span.events.map((e) => ({ name: e.name, attributes: e.attributes }));
  return { result, attributes: span.attributes, events };
}

const KEY = 'shop/echo.v1.Echo/Say';

describe('traceSuite', () => {
  it('marks a call the service breaker rejected on the active span: attributes and an event', async () => {
    const { cbs, client } = await setup();
    cbs.servicePanel.setMode(KEY, 'forcedOpen');
    const { result, attributes, events } = await inSpan(client);
    expect(circuitBreakLevel(result.error)).toBe('service');
    expect(attributes).toEqual({ 'cbsuite.rejected_by': 'service', 'cbsuite.key': KEY });
    expect(events).toEqual([
      { name: 'cbsuite.rejection', attributes: { 'cbsuite.level': 'service', 'cbsuite.key': KEY } },
    ]);
  });

  it('marks a call dropped at instance level (every instance open) on the span active when it was made', async () => {
    const { cbs, client, servers } = await setup({}, true);
    expect((await say(client, 'warm-up')).error).toBeUndefined();
    for (const s of servers) cbs.instancePanel.setMode(s.address, 'forcedOpen');
    const { result, attributes, events } = await inSpan(client);
    expect(circuitBreakLevel(result.error)).toBe('instance');
    expect(attributes).toEqual({ 'cbsuite.rejected_by': 'instance', 'cbsuite.key': KEY });
    expect(events).toEqual([
      { name: 'cbsuite.rejection', attributes: { 'cbsuite.level': 'instance', 'cbsuite.key': KEY } },
    ]);
  });

  it('adds an event for a state change to the span active where it happens', async () => {
    const { cbs, clock, client } = await setup({ serviceBreaker: { coolingTimeoutMs: 1000 } });
    // Trip it outside any span: nothing to add the event to, and no harm done.
    cbs.servicePanel.failWithTrip(KEY, () => true);
    expect(cbs.servicePanel.breaker(KEY)?.state()).toBe(State.Open);
    clock.advance(1000);
    // The next call, in a span, finds the breaker cooled: OPEN → HALF_OPEN as it is checked.
    const { result, attributes, events } = await inSpan(client);
    expect(result.error).toBeUndefined();
    expect(attributes).toEqual({});
    expect(events).toEqual([
      {
        name: 'cbsuite.state_change',
        attributes: {
          'cbsuite.level': 'service',
          'cbsuite.key': KEY,
          'cbsuite.from': 'open',
          'cbsuite.to': 'half_open',
          'cbsuite.cause': 'cooled',
          'cbsuite.fleet': false,
        },
      },
    ]);
  });

  it('leaves the span of a call that went through alone, and stops when told', async () => {
    const { cbs, client, stop } = await setup();
    expect(await inSpan(client)).toMatchObject({ attributes: {}, events: [] });
    stop();
    cbs.servicePanel.setMode(KEY, 'forcedOpen');
    const after = await inSpan(client);
    expect(circuitBreakLevel(after.result.error)).toBe('service');
    expect(after).toMatchObject({ attributes: {}, events: [] });
  });

  it('refuses what is not a suite, naming it', () => {
    let caught: unknown;
    try {
      traceSuite({} as CBSuite);
    } catch (err) {
      caught = err;
    }
    expect(isOptionError(caught)).toBe(true);
    expect(caught).toMatchObject({ option: 'cbs' });
  });
});

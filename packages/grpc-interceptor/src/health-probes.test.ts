import { State } from '@cbsuite/core';
import { say } from '@cbsuite/testkit/echo.js';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { CBHealthProbeEvent } from './events.js';
import { CBSuiteMetrics } from './prometheus.js';
import type { CBSuiteOptions } from './suite-options.js';
import { type Cluster, startCluster } from './test-support/instance-cluster.js';

// Health-checked probes against real grpc-js servers serving the standard
// health service (grpc-health-check): a half-open instance is probed with
// Health/Check, never with a caller's call, and its answer decides.

const SERVICE = 'echo.v1.Echo';
const COOLING_MS = 1_000;
const DETECT_MS = 100;
const OPTIONS: CBSuiteOptions = {
  healthCheck: { service: SERVICE },
  // One failure trips an instance.
  instanceCBConfig: { errRate: 0.001, minSample: 1 },
  instanceBreaker: { coolingTimeoutMs: COOLING_MS, detectTimeoutMs: DETECT_MS, halfOpenSuccesses: 3 },
};

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

/** Makes calls (each must succeed) until the next health probe of `addr` ends; returns it. */
async function callsUntilProbe(c: Cluster, addr: string): Promise<CBHealthProbeEvent> {
  let probe: CBHealthProbeEvent | undefined;
  const stop = c.cbs.onHealthProbe((e) => {
    if (e.key === addr) probe ??= e;
  });
  try {
    for (let i = 0; i < 2_000 && probe === undefined; i++) {
      const r = await say(c.client, `call ${i}`);
      expect(r.error).toBeUndefined();
    }
  } finally {
    stop();
  }
  if (probe === undefined) throw new Error(`no health probe of ${addr} ended within 2000 calls`);
  return probe;
}

function trip(c: Cluster, addr: string): void {
  c.cbs.instancePanel.getBreaker(addr).fail();
  expect(c.cbs.instancePanel.breaker(addr)?.state()).toBe(State.Open);
}

describe('health-checked probes (healthCheck)', () => {
  it('a half-open instance reporting NOT_SERVING gets no caller call: each probe is a failed health check', async () => {
    const c = await startCluster(OPTIONS, 3, () => ({ health: { [SERVICE]: 'SERVING' } }));
    cluster = c;
    const a = c.servers[0];
    if (a === undefined) throw new Error('no server');
    a.setHealth(SERVICE, 'NOT_SERVING');
    trip(c, a.address);
    for (let round = 1; round <= 3; round++) {
      c.clock.advance(COOLING_MS);
      const probe = await callsUntilProbe(c, a.address);
      expect(probe).toMatchObject({ type: 'healthProbe', result: 'notServing', servingStatus: 'NOT_SERVING', code: 0 });
      expect(c.cbs.instancePanel.breaker(a.address)?.state()).toBe(State.Open);
      expect(a.healthChecks()).toBe(round);
    }
    expect(a.hits.Say).toBe(0);
    const toHalfOpen = c.events.filter((e) => e.key === a.address && e.toName === 'HALFOPEN').length;
    const reopened = c.events.filter((e) => e.key === a.address && e.cause === 'probeFailed').length;
    expect([toHalfOpen, reopened]).toEqual([3, 3]);
    expect(c.cbs.stats().instance.healthProbes.get(a.address)).toEqual({ serving: 0, notServing: 3, unimplemented: 0 });
    const registry = new Registry();
    new CBSuiteMetrics({ registry }).add(c.cbs, 'health');
    const text = await registry.metrics();
    const series = `cbsuite_instance_health_probes_total{suite="health",key="${a.address}",result="notServing"} 3`;
    expect(text.split('\n')).toContain(series);
  });

  it('a half-open instance reporting SERVING closes after halfOpenSuccesses checks, then gets calls again', async () => {
    const c = await startCluster(OPTIONS, 3, () => ({ health: { [SERVICE]: 'SERVING' } }));
    cluster = c;
    const a = c.servers[0];
    if (a === undefined) throw new Error('no server');
    trip(c, a.address);
    c.clock.advance(COOLING_MS);
    for (let i = 1; i <= 3; i++) {
      const probe = await callsUntilProbe(c, a.address);
      expect(probe).toMatchObject({ result: 'serving', servingStatus: 'SERVING' });
      expect(c.cbs.instancePanel.breaker(a.address)?.state()).toBe(i < 3 ? State.HalfOpen : State.Closed);
      c.clock.advance(DETECT_MS);
    }
    expect(a.hits.Say).toBe(0);
    expect(a.healthChecks()).toBe(3);
    const closed = c.events.filter((e) => e.key === a.address && e.toName === 'CLOSED');
    expect(closed.map((e) => e.cause)).toEqual(['probeSucceeded']);
    for (let i = 0; i < 30; i++) expect((await say(c.client, 'after')).error).toBeUndefined();
    expect(a.hits.Say).toBeGreaterThan(0);
  });

  it('an unknown service (NOT_FOUND) is a failed probe', async () => {
    const c = await startCluster({ ...OPTIONS, healthCheck: { service: 'not.there' } }, 3, () => ({
      health: { [SERVICE]: 'SERVING' },
    }));
    cluster = c;
    const a = c.servers[0];
    if (a === undefined) throw new Error('no server');
    trip(c, a.address);
    c.clock.advance(COOLING_MS);
    const probe = await callsUntilProbe(c, a.address);
    expect(probe).toMatchObject({ result: 'notServing', servingStatus: undefined, code: 5 });
    expect(c.cbs.instancePanel.breaker(a.address)?.state()).toBe(State.Open);
    expect(a.hits.Say).toBe(0);
  });

  it('a check unanswered within timeoutMs is a failed probe (DEADLINE_EXCEEDED)', async () => {
    const c = await startCluster({ ...OPTIONS, healthCheck: { service: SERVICE, timeoutMs: 50 } }, 3, () => ({
      health: { [SERVICE]: 'SERVING' },
      healthDelayMs: 5_000,
    }));
    cluster = c;
    const a = c.servers[0];
    if (a === undefined) throw new Error('no server');
    trip(c, a.address);
    c.clock.advance(COOLING_MS);
    const probe = await callsUntilProbe(c, a.address);
    expect(probe).toMatchObject({ result: 'notServing', servingStatus: undefined, code: 4 });
    expect(probe.details).toBe('health check timed out after 50 ms');
    expect(c.cbs.instancePanel.breaker(a.address)?.state()).toBe(State.Open);
    expect(a.hits.Say).toBe(0);
  });

  it('an instance without the health service falls back to caller-call probes, with one event', async () => {
    const c = await startCluster(OPTIONS, 3);
    cluster = c;
    const a = c.servers[0];
    if (a === undefined) throw new Error('no server');
    const probes: CBHealthProbeEvent[] = [];
    c.cbs.onHealthProbe((e) => probes.push(e));
    for (let round = 0; round < 2; round++) {
      trip(c, a.address);
      c.clock.advance(COOLING_MS);
      // Callers' calls probe it now: three successes, one per detect interval, close it.
      for (let i = 0; i < 3; i++) {
        const before = a.hits.Say;
        for (let n = 0; n < 2_000 && a.hits.Say === before; n++) {
          expect((await say(c.client, 'probe')).error).toBeUndefined();
        }
        expect(a.hits.Say).toBe(before + 1);
        c.clock.advance(DETECT_MS);
      }
      expect(c.cbs.instancePanel.breaker(a.address)?.state()).toBe(State.Closed);
    }
    expect(probes.map((e) => [e.key, e.result, e.code])).toEqual([[a.address, 'unimplemented', 12]]);
    expect(c.cbs.recentEvents().filter((e) => e.type === 'healthProbe')).toHaveLength(1);
    expect(c.cbs.stats().instance.healthProbes.get(a.address)).toEqual({ serving: 0, notServing: 0, unimplemented: 1 });
  });
});

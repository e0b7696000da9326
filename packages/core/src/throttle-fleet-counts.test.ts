import { ManualClock } from '@cbsuite/testkit/manual-clock.js';
import { describe, expect, it } from 'vitest';
import { AdaptiveThrottle } from './adaptive-throttle.js';
import { FleetLink } from './fleet-link.js';
import type { FleetSync, PanelSync } from './fleet-sync.js';
import type { FleetView } from './fleet-view.js';
import { Mode } from './state.js';

// AdaptiveThrottle.shareWith against a sync that keeps its links in memory:
// the test plays the store, setting each key's fleet view by hand.

function memorySync() {
  const links = new Map<string, FleetLink>();
  const log: string[] = [];
  const panels: Parameters<FleetSync['attach']>[0][] = [];
  const panelSync: PanelSync = {
    link: (_panel, key, breaker) => {
      const l = new FleetLink(key, breaker, { quorum: 1, recentMs: 1000 });
      links.set(key, l);
      return l;
    },
    unlink: (_panel, key) => log.push(`unlink ${key}`),
    transition: (_panel, key, from, to) => log.push(`${key} ${from}>${to}`),
    detach: () => log.push('detached'),
  };
  const sync: FleetSync = {
    attach: (panel, scope) => {
      log.push(`attach ${scope}`);
      panels.push(panel);
      panel.attachSync(panelSync);
    },
    publishConfig: async () => {},
    onConfig: () => () => {},
    publishMode: async () => {},
  };
  return { sync, links, log, panels };
}

const view = (over: Partial<FleetView>): FleetView => ({
  successes: 0,
  failures: 0,
  timeouts: 0,
  slowCalls: 0,
  failingNodes: 0,
  reportingNodes: 2,
  expiresAt: Number.POSITIVE_INFINITY,
  ...over,
});

function setup() {
  const clock = new ManualClock(0);
  const m = memorySync();
  const t = new AdaptiveThrottle({ minRequests: 0, maxRejectProbability: 1, now: clock.now, random: () => 1 });
  const stop = t.shareWith(m.sync, 'adaptive');
  const link = (key = 'k') => m.links.get(key) as FleetLink;
  return { clock, t, stop, link, ...m };
}

describe('AdaptiveThrottle.shareWith', () => {
  it('records a request as a failure and an accept as a success, shed calls included, in metrics-only breakers', () => {
    const clock = new ManualClock(0);
    const m = memorySync();
    const roll = { value: 1 };
    const t = new AdaptiveThrottle({ minRequests: 0, now: clock.now, random: () => roll.value });
    t.shareWith(m.sync, 'adaptive');
    for (let i = 0; i < 4; i++) expect(t.admit('k')).toBe(true);
    t.record('k', true);
    t.record('k', false);
    roll.value = 0;
    expect(t.admit('k')).toBe(false); // shed: still a request
    const l = m.links.get('k') as FleetLink;
    expect(l.take()).toMatchObject({ successes: 1, failures: 5, timeouts: 0 });
    expect(m.log).toEqual(['attach adaptive']);
    const b = m.panels[0]?.breaker('k');
    expect(b?.mode()).toBe(Mode.MetricsOnly);
    // The panel's window is the throttle's: 100 buckets of 1.2 s for the default 120 s.
    expect((m.panels[0] as unknown as { options: { bucketTimeMs: number; bucketNums: number } }).options).toMatchObject(
      { bucketTimeMs: 1200, bucketNums: 100 },
    );
  });

  it("decides on its own counts plus the rest of the fleet's while the view is fresh, then on its own", () => {
    const { t, link, clock } = setup();
    for (let i = 0; i < 10; i++) t.admit('k');
    for (let i = 0; i < 5; i++) t.record('k', true);
    // Alone: 10 requests, 5 accepts: nothing to shed.
    expect(t.probability('k')).toBe(0);
    // The others sent 90 and had 5 accepted: (100 − 2 × 10) / 101.
    expect(t.fleetCounts('k')).toBeUndefined();
    link().setView(view({ failures: 90, successes: 5, expiresAt: 5000 }));
    expect(t.probability('k')).toBeCloseTo(80 / 101, 15);
    expect(t.fleetCounts('k')).toEqual({ requests: 90, accepts: 5 });
    clock.advance(4999);
    expect(t.probability('k')).toBeCloseTo(80 / 101, 15);
    clock.advance(1);
    expect(t.probability('k')).toBe(0);
    expect(t.fleetCounts('k')).toBeUndefined();
    link().setView(undefined);
    expect(t.probability('k')).toBe(0);
  });

  it("gives a node that has not called a key yet the fleet's probability once the key's view arrives", () => {
    const clock = new ManualClock(0);
    const m = memorySync();
    const t = new AdaptiveThrottle({ now: clock.now, random: () => 0.5 });
    t.shareWith(m.sync, 'adaptive');
    // The first call makes the key's breaker: decided on this node's counts alone (none).
    expect(t.admit('k')).toBe(true);
    t.record('k', true);
    (m.links.get('k') as FleetLink).setView(view({ failures: 100, successes: 10, expiresAt: 1000 }));
    // 101 requests, 11 accepts, over minRequests though this node sent one: (101 − 22) / 102.
    expect(t.probability('k')).toBeCloseTo(79 / 102, 15);
    expect(t.admit('k')).toBe(false);
  });

  it.each([
    ['NaN requests', { failures: Number.NaN, successes: 1 }],
    ['NaN accepts', { failures: 100, successes: Number.NaN }],
    ['negative requests', { failures: -50, successes: 0 }],
    ['negative accepts', { failures: 100, successes: -1000 }],
    ['infinite requests', { failures: Number.POSITIVE_INFINITY, successes: 0 }],
    ['infinite accepts', { failures: 0, successes: Number.POSITIVE_INFINITY }],
  ])('ignores a view with %s and decides on its own counts', (_name, bad) => {
    const { t, link } = setup();
    for (let i = 0; i < 10; i++) t.admit('k');
    t.record('k', true);
    link().setView(view(bad));
    expect(t.probability('k')).toBeCloseTo((10 - 2) / 11, 15);
    expect(t.fleetCounts('k')).toBeUndefined();
  });

  it('keeps counting when the fleet forces a mode on the scope or opens one of its keys', () => {
    const { t, link, panels } = setup();
    t.admit('k');
    panels[0]?.getBreaker('k');
    (panels[0] as unknown as { setMode(key: string, mode: Mode): void }).setMode('k', Mode.ForcedOpen);
    t.admit('k');
    panels[0]?.breaker('k')?.applyFleetOpen(5000, 5000, 0);
    t.record('k', true);
    expect(panels[0]?.breaker('k')?.mode()).toBe(Mode.MetricsOnly);
    expect(link().take()).toMatchObject({ successes: 1, failures: 2 });
  });

  it('stops sharing: the panel detaches, decisions go back to its own counts, and it may share again', () => {
    const { t, link, stop, log, sync } = setup();
    for (let i = 0; i < 10; i++) t.admit('k');
    link().setView(view({ successes: 1000 }));
    expect(t.probability('k')).toBe(0);
    expect(() => t.shareWith(sync, 'adaptive')).toThrow('this AdaptiveThrottle shares its counts already');
    stop();
    stop();
    expect(log).toEqual(['attach adaptive', 'detached']);
    expect(t.probability('k')).toBeCloseTo(10 / 11, 15);
    t.shareWith(sync, 'adaptive');
    expect(log).toEqual(['attach adaptive', 'detached', 'attach adaptive']);
  });

  it('forgets a removed key in the shared panel too', () => {
    const { t, log, panels } = setup();
    t.admit('k');
    t.remove('k');
    expect(panels[0]?.breaker('k')).toBeUndefined();
    expect(log).toEqual(['attach adaptive', 'unlink k']);
  });

  it('is not made to share when the sync refuses the scope', () => {
    const clock = new ManualClock(0);
    const t = new AdaptiveThrottle({ now: clock.now });
    const refusing: FleetSync = {
      ...memorySync().sync,
      attach: () => {
        throw new Error('scope "adaptive" is already attached');
      },
    };
    expect(() => t.shareWith(refusing, 'adaptive')).toThrow('scope "adaptive" is already attached');
    expect(() => t.shareWith(memorySync().sync, 'adaptive')).not.toThrow();
  });
});
